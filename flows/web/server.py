"""Serving the web app with uvicorn: shared by ``newswatch web`` and ``python -m flows.web``."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from config.settings import Settings


class ServeError(Exception):
    """The app cannot be served as asked; the message says why."""


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"


def listen_address(settings: Settings, host: str | None, port: int | None) -> Listen:
    """Options win over the config's ``web`` section (default 127.0.0.1:8080)."""
    chosen_port = settings.web.port if port is None else port
    if not 0 < chosen_port < 65536:
        raise ServeError(f"--port {chosen_port}: must be from 1 to 65535")
    return Listen(host=(host or settings.web.host).strip(), port=chosen_port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: Settings, listen: Listen) -> str | None:
    """A warning when the app is reachable beyond this machine without a password."""
    if is_loopback(listen.host):
        return None
    if settings.web.username and settings.web.password:
        return None
    return (
        f"listening on {listen.host}, beyond this machine, without a password: "
        "set web.username and web.password in the config for a shared deployment"
    )


def check_port_free(listen: Listen) -> None:
    """Fail with one line (not uvicorn's traceback) when the address cannot be bound."""
    try:
        infos = socket.getaddrinfo(listen.host, listen.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {listen.host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ServeError(f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}") from None


def serve(
    settings: Settings,
    listen: Listen,
    *,
    log_level: str = "info",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Open the database, then serve until interrupted. Raises ServeError or DatabaseNotReady.

    ``announce`` hears the URL once the port and the database have been checked.
    """
    import uvicorn

    from flows.web.app import create_app

    check_port_free(listen)
    app = create_app(settings)
    if announce:
        announce(listen.url)
    uvicorn.run(
        app,
        host=listen.host,
        port=listen.port,
        log_level=log_level,
        server_header=False,
        # Client addresses (in the access log) from X-Forwarded-For only when the config
        # says a proxy in front sets it; links never come from request headers (links.py).
        proxy_headers=settings.web.trust_proxy_headers,
        forwarded_allow_ips="*" if settings.web.trust_proxy_headers else None,
        access_log=True,
    )
