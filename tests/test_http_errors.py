"""The fetcher's exception tree: drawn at the top of its module, and every branch an outcome."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from tasks.http import Outcome, _exceptions
from tasks.http._classify import Verdict, classify_exception
from tasks.http._exceptions import (
    AddressRefused,
    BodyTooLarge,
    CorruptBody,
    DNSFailure,
    FetchError,
    RequestRefused,
    UnsupportedEncoding,
)


def drawn_tree() -> dict[str, str | None]:
    """class name -> parent name, read from the module docstring's drawing (4 columns a level)."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    root_column = None
    for line in (_exceptions.__doc__ or "").splitlines():
        match = re.match(r"^[ │├└─]*?(?:── )?([A-Z][A-Za-z]+)\b", line)
        if not match or not line.lstrip().startswith(("FetchError", "├──", "└──", "│")):
            continue
        if "──" not in line and root_column is not None:
            continue  # a continuation line of a description
        column = match.start(1)
        root_column = column if root_column is None else root_column
        depth = (column - root_column) // 4
        stack = stack[:depth]
        parents[match.group(1)] = stack[-1] if stack else None
        stack.append(match.group(1))
    return parents


def actual_tree() -> dict[str, str | None]:
    found: dict[str, str | None] = {"FetchError": None}
    pending = [FetchError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found[sub.__name__] = cls.__name__
            pending.append(sub)
    return found


def test_the_drawing_is_the_hierarchy() -> None:
    assert drawn_tree() == actual_tree()


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (RequestRefused("unsupported scheme ftp"), (Outcome.REJECTED, "unsupported scheme ftp", False)),
        (AddressRefused("h", "10.0.0.1", 80, "private"), (Outcome.REJECTED, "refused: private address 10.0.0.1", False)),
        (DNSFailure("no such host"), (Outcome.TRANSIENT, "DNS error", True)),
        (BodyTooLarge(1000), (Outcome.REJECTED, "too large (over 1000 bytes)", False)),
        (UnsupportedEncoding("br"), (Outcome.PERMANENT, "unsupported content encoding br", False)),
        (CorruptBody(), (Outcome.PERMANENT, "invalid compressed body", True)),
    ],
)
def test_each_of_our_errors_has_its_outcome(exc: FetchError, verdict: tuple[Outcome, str, bool]) -> None:
    assert classify_exception(exc) == Verdict(*verdict)


def test_a_library_error_is_read_through_its_chain() -> None:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as inner:
            raise httpx.ConnectError("connect failed") from inner
    except httpx.ConnectError as exc:
        assert classify_exception(exc) == Verdict(Outcome.TRANSIENT, "DNS error", True)
    assert classify_exception(httpx.ReadTimeout("slow")) == Verdict(Outcome.TRANSIENT, "timeout", True)
