"""A tiny local HTTP server for the bundled offline sample (``config/sample``).

Used by ``newswatch demo`` (the quick start) and by end-to-end tests. It serves the
sample's feeds and article pages on 127.0.0.1, writes its own base URL into every
``{{base}}`` placeholder so links work under whatever port it binds, and answers
conditional GETs (ETag, Last-Modified) with 304 so a second pass over the sample costs
one request per feed. No prefect import here: starting it must stay cheap.

Run ``python -m flows.demo_server`` to browse the sample by hand.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

import config

PLACEHOLDER = "{{base}}"
DEFAULT_ROOT = Path(config.__file__).parent / "sample"
FEEDS_FILE = "feeds.yaml"
EXPECTED_FILE = "expected.yaml"

# Only these are served; anything else under the root (README, feeds.yaml) is a 404.
_HTML_TYPE = "text/html; charset=utf-8"
_RSS_TYPE = "application/rss+xml; charset=utf-8"
_ATOM_TYPE = "application/atom+xml; charset=utf-8"
_SERVED_SUFFIXES = {".html", ".xml"}


class SampleError(Exception):
    """The sample folder or its feeds.yaml is missing or malformed."""


@dataclass(frozen=True)
class _Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime  # whole seconds, UTC


def content_type_for(path: Path, body: bytes) -> str:
    """The Content-Type a sample file is served with (Atom vs RSS told apart by the root element)."""
    if path.suffix == ".html":
        return _HTML_TYPE
    head = body[:1000]
    if b"<feed" in head and b"http://www.w3.org/2005/Atom" in head:
        return _ATOM_TYPE
    return _RSS_TYPE


def resolve_sample_path(root: Path, request_path: str) -> Path | None:
    """The file a request path names under ``root``, or None (unknown, directory, traversal)."""
    path = unquote(urlsplit(request_path).path)
    if "\x00" in path or "\\" in path:
        return None
    parts = [part for part in path.split("/") if part]
    if not parts or any(part in (".", "..") for part in parts):
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts).resolve()
    # resolve() follows symlinks: whatever the path says, it must still land inside root.
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    if candidate.suffix not in _SERVED_SUFFIXES:
        return None
    return candidate


def etag_matches(header: str, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header against our ETag."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


class SampleServer:
    """Serves the sample on ``host`` (port 0: any free port) from a daemon thread.

    >>> with SampleServer() as server:
    ...     server.feed_urls()  # [(url, name), ...] under server.base_url
    """

    def __init__(
        self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0,
        *, delay_seconds: float = 0.0,
    ) -> None:
        self.root = Path(root) if root is not None else DEFAULT_ROOT
        # Article pages (not feeds) wait this long: tests use it to interrupt a pass midway.
        self.delay_seconds = delay_seconds
        if not self.root.is_dir():
            raise SampleError(f"sample folder not found: {self.root}")
        self.host = host
        self.port = port
        self.base_url = ""
        self.host_port = ""
        self.request_log: list[str] = []  # request targets (path and query), in arrival order
        self.response_log: list[tuple[str, int]] = []  # (request target, status)
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[int, _Resource]] = {}  # keyed by file; valid for an mtime_ns
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> SampleServer:
        if self._httpd is not None:
            return self
        httpd = _QuietThreadingHTTPServer((self.host, self.port), _make_handler(self))
        self._httpd = httpd
        bound_host, bound_port = httpd.server_address[:2]
        self.port = int(bound_port)
        shown_host = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
        self.host_port = f"{shown_host}:{self.port}"
        self.base_url = f"http://{self.host_port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"sample-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()  # kept-alive clients see the server go, as with a real one
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SampleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the sample ------------------------------------------------------------------

    def feed_urls(self) -> list[tuple[str, str]]:
        """``(url, name)`` for every feed listed in the sample's feeds.yaml, in file order."""
        if not self.base_url:
            raise RuntimeError("SampleServer.feed_urls() needs a started server")
        return [(self.url(path), name) for path, name in read_feed_list(self.root)]

    def url(self, path: str) -> str:
        """The absolute URL of a sample path such as ``/ledger/2026/11/x.html``."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def requests_made(self) -> list[str]:
        with self._lock:
            return list(self.request_log)

    def clear_log(self) -> None:
        with self._lock:
            self.request_log.clear()
            self.response_log.clear()

    def _record(self, target: str, status: int | None = None) -> None:
        with self._lock:
            if status is None:
                self.request_log.append(target)
            else:
                self.response_log.append((target, status))

    def _resource(self, path: Path) -> _Resource:
        mtime_ns = path.stat().st_mtime_ns
        with self._lock:
            cached = self._cache.get(path)
        if cached is not None and cached[0] == mtime_ns:
            return cached[1]
        raw = path.read_bytes()
        body = raw.replace(PLACEHOLDER.encode(), self.base_url.encode())
        digest = hashlib.sha256(body).hexdigest()[:20]
        modified = datetime.fromtimestamp(mtime_ns // 1_000_000_000, tz=UTC)
        resource = _Resource(body, content_type_for(path, raw), f'"{digest}"', modified)
        with self._lock:
            self._cache[path] = (mtime_ns, resource)
        return resource


def read_feed_list(root: Path) -> list[tuple[str, str]]:
    """``(path, name)`` pairs from ``root/feeds.yaml`` (``feeds: [{path, name}, ...]``)."""
    file = root / FEEDS_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise SampleError(f"{file}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise SampleError(f"{file}: not valid YAML ({error})") from None
    feeds = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(feeds, list):
        raise SampleError(f"{file}: expected a 'feeds' list")
    pairs = []
    for index, entry in enumerate(feeds):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise SampleError(f"{file}: feeds[{index}] needs a 'path'")
        pairs.append((entry["path"], str(entry.get("name") or entry["path"])))
    return pairs


def read_broken_on_purpose(root: Path) -> dict[str, tuple[str, str]]:
    """``{path: (name, why)}`` for the sample feeds that fail by design (``broken_on_purpose``)."""
    data = yaml.safe_load((root / FEEDS_FILE).read_text(encoding="utf-8")) or {}
    return {
        entry["path"]: (str(entry.get("name") or entry["path"]), str(entry["broken_on_purpose"]))
        for entry in data.get("feeds") or []
        if isinstance(entry, dict) and entry.get("broken_on_purpose") and isinstance(entry.get("path"), str)
    }


@dataclass(frozen=True)
class ExpectedPage:
    """One article page of the sample and what a pass should make of it (expected.yaml)."""

    path: str  # as served, e.g. /ledger/2026/11/16/pm-president-white-house-talks.html
    topics: tuple[str, ...]  # topic ids that must alert; () for a hard negative
    story: str  # pages telling the same event share a story name
    kind: str  # positive | syndicated | retelling | teaser | hard-negative


def read_expected_pages(root: Path | None = None) -> list[ExpectedPage]:
    """The sample's expected outcome, for end-to-end tests (``root/expected.yaml``)."""
    file = (root if root is not None else DEFAULT_ROOT) / EXPECTED_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        return [
            ExpectedPage(page["path"], tuple(page["topics"]), page["story"], page["kind"])
            for page in data["pages"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise SampleError(f"{file}: cannot read the expected outcome ({error})") from None


class _QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client hanging up mid-response is normal for a crawler; say nothing.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]  # socketserver types its args narrower


def _make_handler(server: SampleServer) -> type[BaseHTTPRequestHandler]:
    class SampleHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "newswatch-sample/1"
        timeout = 15  # idle keep-alive connections must not pin a thread forever

        def do_GET(self) -> None:
            self._serve(send_body=True)

        def do_HEAD(self) -> None:
            self._serve(send_body=False)

        def _serve(self, send_body: bool) -> None:
            server._record(self.path)
            path = resolve_sample_path(server.root, self.path)
            if path is None:
                self._reply(404, b"not found\n", "text/plain; charset=utf-8", send_body)
                return
            resource = server._resource(path)
            if server.delay_seconds and path.suffix == ".html":
                time.sleep(server.delay_seconds)
            headers = {
                "ETag": resource.etag,
                "Last-Modified": email.utils.format_datetime(resource.last_modified, usegmt=True),
            }
            if_none_match = self.headers.get("If-None-Match")
            if_modified_since = self.headers.get("If-Modified-Since")
            # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
            if if_none_match is not None:
                fresh = etag_matches(if_none_match, resource.etag)
            else:
                fresh = if_modified_since is not None and not_modified_since(
                    if_modified_since, resource.last_modified
                )
            if fresh:
                self._reply(304, b"", None, send_body, headers)
            else:
                self._reply(200, resource.body, resource.content_type, send_body, headers)

        def _reply(
            self,
            status: int,
            body: bytes,
            content_type: str | None,
            send_body: bool,
            headers: dict[str, str] | None = None,
        ) -> None:
            server._record(self.path, status)
            self.send_response(status)
            if content_type is not None:
                self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body and status != 304:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # quiet: the demo prints its own summary

    return SampleHandler


def main(argv: list[str] | None = None) -> int:
    """Serve the sample until interrupted: ``python -m flows.demo_server [PORT]``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and not (args[0].isdigit() and int(args[0]) < 65536)):
        print("usage: python -m flows.demo_server [PORT]  (PORT: 0-65535, default any free port)")
        return 2
    port = int(args[0]) if args else 0
    with SampleServer(port=port) as server:
        print(f"Serving the sample at {server.base_url}/ (Ctrl-C to stop). Feeds:")
        for url, name in server.feed_urls():
            print(f"  {name}: {url}")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
