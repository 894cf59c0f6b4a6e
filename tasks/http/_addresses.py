"""The SSRF guard: which addresses are public, and resolve-check-pin for every host.

A host is resolved once, every address it has is checked, and the checked answer is
pinned for the connect that follows (``_transport.py`` connects only to pinned
addresses), so DNS rebinding cannot slip a private address in between the check and the
connect.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from config.netrules import NetworkRule, parse_network_rule
from tasks.http._exceptions import AddressRefused, DNSFailure

# How long a checked DNS answer stays pinned for the connection that follows the check.
PIN_SECONDS = 60.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list[tuple[Any, ...]]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def non_public_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` is not a public internet address ("loopback", "private", …), else None.

    IPv4 addresses embedded in IPv6 forms (``::ffff:127.0.0.1``, 6to4 ``2002:7f00:1::``,
    Teredo, NAT64) are judged by the IPv4 address they carry. Raises ``ValueError`` for text
    that is not an IP address.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # Mapped and NAT64 (DNS64 answers on IPv6-only hosts) addresses are their IPv4 address.
        if ip.ipv4_mapped is not None:
            return non_public_reason(ip.ipv4_mapped)
        if ip in _NAT64:
            return non_public_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for inner in _embedded_ipv4(ip):
        reason = non_public_reason(inner)
        if reason is not None:
            return f"{reason} (embedded {inner})"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for reason, applies in checks:
        if applies:
            return reason
    return None


def is_public_address(address: str | IPAddress) -> bool:
    return non_public_reason(address) is None


def parse_allow_rules(allow: bool | list[str] | tuple[str, ...]) -> bool | list[NetworkRule]:
    """``allow_private_networks`` as True/False or parsed rules; ``ValueError`` names a bad entry."""
    if isinstance(allow, bool):
        return allow
    return [parse_network_rule(entry) for entry in allow]


class AddressGuard:
    """Resolve a host once, check every address, and pin the checked answer for the connect."""

    def __init__(
        self,
        allow: bool | list[NetworkRule],
        *,
        resolve: Resolver = socket.getaddrinfo,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allow = allow
        self._resolve = resolve
        self._clock = clock
        self._pinned: dict[tuple[str, int], tuple[list[str], float]] = {}
        self._lock = threading.Lock()

    def allows(self, host: str, address: str, port: int) -> str | None:
        """None when allowed, else the reason the address is refused."""
        reason = non_public_reason(address)
        if reason is None or self._allow is True:
            return None
        if self._allow is False:
            return reason
        if any(rule.allows(host, address, port) for rule in self._allow):
            return None
        return reason

    def check(self, host: str, port: int) -> list[str]:
        """The host's addresses, all allowed; raises :class:`AddressRefused` or :class:`DNSFailure`."""
        host = host.strip("[]").lower()
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                infos = self._resolve(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise DNSFailure(str(exc)) from exc
            addresses = list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
            if not addresses:
                raise DNSFailure(f"{host} has no addresses")
        for address in addresses:
            reason = self.allows(host, address, port)
            if reason is not None:
                raise AddressRefused(host, address, port, reason)
        with self._lock:
            self._pinned[(host, port)] = (addresses, self._clock() + PIN_SECONDS)
        return addresses

    def addresses_for(self, host: str, port: int) -> list[str]:
        """The pinned, checked addresses for a connect; checks afresh when none are pinned."""
        key = (host.strip("[]").lower(), port)
        with self._lock:
            pinned = self._pinned.get(key)
        if pinned is not None and pinned[1] > self._clock():
            return pinned[0]
        return self.check(*key)
