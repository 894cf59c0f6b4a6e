"""A real HTTP server on 127.0.0.1 for tests: routes, misbehaviours, and a log of what was asked.

    from tests.support.httpserver import LocalSite, Reply

    with LocalSite() as site:
        site.route("/feed.xml", body=b"<rss/>", content_type="application/rss+xml")
        site.redirect("/old", "/feed.xml")
        site.gzip("/big", b"x" * 10_000)
        site.drip("/slow", b"<rss/>", bytes_per_second=1)
        site.reset("/broken", after_bytes=10)
        site.route("/dynamic", handler=lambda request: Reply(body=request.path.encode()))
        ...  # fetch site.url("/feed.xml"); allow it with site.allow_rule ("127.0.0.1:<port>")
        assert site.paths() == ["/feed.xml"]

Or take the ``local_site`` pytest fixture (import it into the test module, or list this module in
``pytest_plugins``). Unknown paths answer 404. Every request is logged before its handler runs,
so a test can assert exactly what was (and was not) requested.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import mimetypes
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # path and query, as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes
    started_at: float  # time.monotonic() when the request arrived
    client_port: int

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    """What a route answers. ``body`` is sent with a Content-Length; ``stream`` is sent without
    one (``Connection: close``) unless ``declared_length`` is given."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    content_type: str | None = None
    delay: float = 0.0  # seconds to wait before answering
    chunk_size: int | None = None  # write the body in pieces of this size…
    chunk_delay: float = 0.0  # …this many seconds apart (a slow drip)
    reset_after: int | None = None  # abort the connection (TCP RST) after this many body bytes
    stream: Iterable[bytes] | None = None  # a generated body (e.g. 50 MB without holding it)
    declared_length: int | None = None  # Content-Length to announce for ``stream``
    raw: bytes | None = None  # send exactly these bytes (not HTTP, perhaps), then close


Handler = Callable[[RecordedRequest], Reply]


def gzip_bytes(data: bytes) -> bytes:
    return gzip_module.compress(data, compresslevel=9)


def gzip_bomb(decoded_size: int) -> bytes:
    """``decoded_size`` zero bytes, gzip-compressed (10 MB -> about 10 KB), built in steps."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    pieces = []
    remaining = decoded_size
    while remaining > 0:
        pieces.append(compressor.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    pieces.append(compressor.flush())
    return b"".join(pieces)


def zero_stream(size: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """``size`` zero bytes in chunks, never all in memory."""
    block = bytes(chunk)
    sent = 0
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece


def tls_contexts(*hostnames: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context): a throwaway CA, and a certificate for ``hostnames``
    signed by it; the client context trusts only that CA. Needs ``cryptography``."""
    import datetime
    import ipaddress
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool, names=()):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        if names:
            alt: list[x509.GeneralName] = []
            for name in names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    alt.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("newswatch test CA", ca_key, "newswatch test CA", ca_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(
        hostnames[0], leaf_key, "newswatch test CA", ca_key, ca=False, names=hostnames
    )
    pem = serialization.Encoding.PEM
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_file.write_bytes(leaf.public_bytes(pem))
        key_file.write_bytes(
            leaf_key.private_bytes(
                pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca_cert.public_bytes(pem).decode("ascii"))
    return server, client


_FEED_TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml"}
_TYPES = mimetypes.MimeTypes()  # Python's own table only: the same on every machine


def _content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _FEED_TYPES.get(suffix) or _TYPES.guess_type(name)[0] or "application/octet-stream"


class LocalSite:
    """A threaded HTTP/1.1 server on 127.0.0.1 (or ``host="::1"``) with an ephemeral port.

    Pass ``tls`` (a server ``ssl.SSLContext``, e.g. from :func:`tls_contexts`) to serve HTTPS;
    the names clients asked for in SNI are in :attr:`tls_server_names`.
    """

    def __init__(self, host: str = "127.0.0.1", *, tls: ssl.SSLContext | None = None) -> None:
        self._routes: dict[str, Handler] = {}
        self._log: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._max_in_flight = 0
        self._stopping = threading.Event()
        self.tls_server_names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = self._record_sni
        self._tls = tls
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, 0), _make_handler(self))
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalSite:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalSite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._netloc}"

    @property
    def allow_rule(self) -> str:
        """The ``allow_private_networks`` entry that admits this server and nothing else."""
        return self._netloc

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.origin + (path if path.startswith("/") else "/" + path)

    # routes ------------------------------------------------------------------------------

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        content_type: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        handler: Handler | None = None,
        **reply: object,
    ) -> None:
        """Answer ``path`` (query ignored unless a route names it) with a fixed reply or a handler."""
        if handler is None:
            fixed = Reply(
                status=status,
                body=body.encode("utf-8") if isinstance(body, str) else body,
                headers=headers,
                content_type=content_type,
                **reply,  # type: ignore[arg-type]
            )
            handler = lambda _request: fixed  # noqa: E731
        with self._lock:
            self._routes[path] = handler

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """``to`` may be a path on this site or any absolute URL."""
        self.route(path, status=status, headers={"Location": to})

    def gzip(
        self, path: str, body: bytes | str, *, content_type: str | None = None, **reply: object
    ) -> None:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        headers = {"Content-Encoding": "gzip", **dict(reply.pop("headers", {}) or {})}  # type: ignore[arg-type]
        self.route(path, gzip_bytes(raw), content_type=content_type, headers=headers, **reply)

    def drip(
        self, path: str, body: bytes | str, *, bytes_per_second: float = 1.0, **reply: object
    ) -> None:
        """Send the body one byte at a time, ``bytes_per_second`` bytes a second."""
        self.route(path, body, chunk_size=1, chunk_delay=1.0 / bytes_per_second, **reply)

    def reset(
        self, path: str, *, after_bytes: int = 0, body: bytes | None = None, **reply: object
    ) -> None:
        """Announce a full body, send ``after_bytes`` of it, then abort the connection (RST)."""
        body = body if body is not None else b"x" * (after_bytes + 1000)
        self.route(path, body, reset_after=after_bytes, **reply)

    def slow(self, path: str, delay: float, body: bytes | str = b"ok", **reply: object) -> None:
        """Wait ``delay`` seconds before answering."""
        self.route(path, body, delay=delay, **reply)

    def files(self, prefix: str, folder: str | Path) -> list[str]:
        """Serve every file under ``folder`` at ``prefix`` + its relative path (content type
        guessed from the name); returns the paths routed."""
        root = Path(folder)
        routed = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            path = prefix.rstrip("/") + "/" + file.relative_to(root).as_posix()
            self.route(path, file.read_bytes(), content_type=_content_type(file.name))
            routed.append(path)
        return routed

    # the log -----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._log)

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def requests_for(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path or r.path.split("?", 1)[0] == path]

    @property
    def max_in_flight(self) -> int:
        """The most requests ever between arrival and the start of their response."""
        with self._lock:
            return self._max_in_flight

    def clear(self) -> None:
        with self._lock:
            self._log.clear()
            self._max_in_flight = self._in_flight

    # used by the handler -----------------------------------------------------------------

    def _arrived(self, request: RecordedRequest) -> Handler | None:
        with self._lock:
            self._log.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            return self._routes.get(request.path) or self._routes.get(request.path.split("?", 1)[0])

    def _answering(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record_sni(self, _socket: object, server_name: str | None, _context: object) -> None:
        with self._lock:
            self.tls_server_names.append(server_name)

    def _wrap(self, connection: socket.socket) -> socket.socket:
        if self._tls is None:
            return connection
        # The handshake happens in the handler's thread, so a stalled client blocks nobody.
        return self._tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a dripping handler must not hold up stop()
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose in these tests (caps, deadlines)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _make_handler(site: LocalSite) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._handle()

        do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

        def setup(self) -> None:
            self.request = site._wrap(self.request)
            self.connection = self.request
            super().setup()

        def handle(self) -> None:
            if isinstance(self.request, ssl.SSLSocket):
                try:
                    self.request.settimeout(5)
                    self.request.do_handshake()
                    self.request.settimeout(None)
                except (ssl.SSLError, OSError):
                    self.close_connection = True  # e.g. the client rejected our certificate
                    return
            super().handle()

        def finish(self) -> None:
            with contextlib.suppress(OSError, ValueError):
                super().finish()
            if isinstance(self.request, ssl.SSLSocket):  # the server only closes the raw socket
                with contextlib.suppress(OSError):
                    self.request.close()

        def _handle(self) -> None:
            started = time.monotonic()
            headers: dict[str, str] = {}
            for name, value in self.headers.items():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            length = int(headers.get("content-length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            request = RecordedRequest(
                self.command, self.path, headers, body, started, self.client_address[1]
            )
            handler = site._arrived(request)
            try:
                reply = (
                    handler(request)
                    if handler
                    else Reply(404, b"not found", content_type="text/plain")
                )
                if reply.delay and site._stopping.wait(reply.delay):
                    return
            except Exception as exc:  # a broken test handler shows up as a 500 with the reason
                reply = Reply(500, f"handler failed: {exc!r}".encode(), content_type="text/plain")
            finally:
                site._answering()
            self._send(reply)

        def _send(self, reply: Reply) -> None:
            if reply.raw is not None:
                self.wfile.write(reply.raw)
                self.wfile.flush()
                self.close_connection = True
                return
            self.send_response(reply.status)
            pairs = (
                list(reply.headers.items())
                if isinstance(reply.headers, Mapping)
                else list(reply.headers)
            )
            names = {name.lower() for name, _ in pairs}
            if reply.content_type and "content-type" not in names:
                pairs.append(("Content-Type", reply.content_type))
            if reply.stream is not None and reply.declared_length is None:
                pairs.append(("Connection", "close"))
                self.close_connection = True
            elif "content-length" not in names:
                length = reply.declared_length if reply.stream is not None else len(reply.body)
                pairs.append(("Content-Length", str(length)))
            for name, value in pairs:
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            try:
                self._write_body(reply)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _write_body(self, reply: Reply) -> None:
            chunks: Iterable[bytes]
            if reply.stream is not None:
                chunks = reply.stream
            elif reply.chunk_size:
                size = reply.chunk_size
                chunks = (reply.body[i : i + size] for i in range(0, len(reply.body), size))
            else:
                chunks = [reply.body]
            sent = 0
            for index, chunk in enumerate(chunks):
                if reply.reset_after is not None and sent + len(chunk) >= reply.reset_after:
                    self.wfile.write(chunk[: reply.reset_after - sent])
                    self._abort()
                    return
                if index and reply.chunk_delay and site._stopping.wait(reply.chunk_delay):
                    self.close_connection = True
                    return
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)

        def _abort(self) -> None:
            """Close with a TCP reset, as a crashed server or a middlebox would."""
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True

    return _Handler


@pytest.fixture
def local_site() -> Iterator[LocalSite]:
    """A started :class:`LocalSite`, stopped after the test."""
    with LocalSite() as site:
        yield site


__all__ = [
    "Handler",
    "LocalSite",
    "RecordedRequest",
    "Reply",
    "gzip_bomb",
    "gzip_bytes",
    "local_site",
    "tls_contexts",
    "zero_stream",
]
