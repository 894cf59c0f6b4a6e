"""The SSRF address check and allow rules, without a network."""

from __future__ import annotations

import socket

import pytest

from tasks.http import (
    AddressGuard,
    AddressRefused,
    DNSFailure,
    is_public_address,
    non_public_reason,
    parse_allow_rules,
)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),  # reserved (Python files 240/4 under private too)
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        # IPv4 inside IPv6 is judged by the IPv4 address it carries.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::1", "loopback (embedded 127.0.0.1)"),  # 6to4
        ("2002:a00:1::1", "private (embedded 10.0.0.1)"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ],
)
def test_non_public_addresses(address: str, reason: str) -> None:
    assert non_public_reason(address) == reason
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses(address: str) -> None:
    assert non_public_reason(address) is None
    assert is_public_address(address)


def test_not_an_address_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        non_public_reason("example.com")


def _resolver(table: dict[str, list[str]]):
    def resolve(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in table[host]
        ]

    return resolve


def test_guard_refuses_by_default_and_names_the_address() -> None:
    guard = AddressGuard(False, resolve=_resolver({"intranet.example": ["::ffff:10.0.0.7"]}))
    with pytest.raises(AddressRefused) as refused:
        guard.check("intranet.example", 443)
    assert str(refused.value) == "refused: private address ::ffff:10.0.0.7"
    assert refused.value.reason == "private"


def test_guard_checks_literals_without_resolving() -> None:
    guard = AddressGuard(False, resolve=_resolver({}))
    with pytest.raises(AddressRefused):
        guard.check("[::1]", 80)
    assert guard.check("8.8.8.8", 80) == ["8.8.8.8"]


def test_guard_allows_public_names_and_pins_the_answer() -> None:
    table = {"news.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}
    guard = AddressGuard(False, resolve=_resolver(table))
    assert guard.check("News.Example", 443) == table["news.example"]
    table["news.example"] = ["127.0.0.1"]  # a rebinding answer arrives later…
    assert guard.addresses_for("news.example", 443)[0] == "93.184.216.34"  # …and is not used


def test_guard_dns_failure() -> None:
    guard = AddressGuard(False, resolve=_resolver({}))
    with pytest.raises(DNSFailure):
        guard.check("nowhere.example", 80)


@pytest.mark.parametrize(
    ("rules", "host", "address", "port", "allowed"),
    [
        (["127.0.0.1:8080"], "127.0.0.1", "127.0.0.1", 8080, True),
        (["127.0.0.1:8080"], "127.0.0.1", "127.0.0.1", 8081, False),
        (["127.0.0.1"], "127.0.0.1", "127.0.0.1", 9999, True),
        (["10.0.0.0/8"], "intranet", "10.20.30.40", 80, True),
        (["10.0.0.0/8"], "intranet", "192.168.0.1", 80, False),
        (["intranet.local"], "intranet.local", "10.0.0.9", 443, True),
        (["intranet.local:8443"], "intranet.local", "10.0.0.9", 443, False),
        (["[::1]:8080"], "::1", "::1", 8080, True),
        ([], "127.0.0.1", "127.0.0.1", 80, False),
    ],
)
def test_allow_rules(rules: list[str], host: str, address: str, port: int, allowed: bool) -> None:
    guard = AddressGuard(parse_allow_rules(rules))
    assert (guard.allows(host, address, port) is None) is allowed


def test_allow_true_admits_everything() -> None:
    assert AddressGuard(True).allows("x", "169.254.169.254", 80) is None
