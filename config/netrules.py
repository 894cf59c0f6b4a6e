"""Entries of ``fetch.allow_private_networks``: ``host:port``, ``host``, or a CIDR block."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkRule:
    """An allowed private destination: a network (any port) or a host with an optional port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    host: str | None = None
    port: int | None = None

    def allows(self, host: str, address: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(address) in self.network
            except ValueError:
                return False
        if self.host is None:
            return False
        wanted = self.host.lower().strip("[]")
        return wanted in (host.lower().strip("[]"), address)


def parse_network_rule(entry: str) -> NetworkRule:
    """Parse one entry; raise ``ValueError`` saying what is wrong."""
    text = str(entry).strip()
    if not text:
        raise ValueError("an empty entry in allow_private_networks")
    if "/" in text:
        try:
            return NetworkRule(network=ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not a CIDR block like 10.0.0.0/8") from None
    host, port = text, None
    if text.startswith("["):  # [::1]:8080
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{text!r}: unclosed [ in an IPv6 address")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{text!r} is not host:port")
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = _port(port_text, text)
    if not host:
        raise ValueError(f"{text!r} has no host")
    try:
        return NetworkRule(network=ipaddress.ip_network(host), port=port) if port is None else (
            NetworkRule(host=str(ipaddress.ip_address(host)), port=port)
        )
    except ValueError:
        return NetworkRule(host=host.lower(), port=port)


def _port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: {text!r} is not a port number")
    return int(text)
