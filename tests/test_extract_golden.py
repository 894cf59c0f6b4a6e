"""Golden files: pages written for this project, with the fields extraction must produce.

After an intended change run scripts/regen_golden.py and review the diff.
"""

from __future__ import annotations

import pytest

from tasks.extract import extract_article
from tests.golden.cases import build_input, check_failures, load_cases, observed_fields

CASES = load_cases()


def test_the_required_kinds_of_page_are_covered() -> None:
    names = {case.name for case in CASES}
    assert {
        "normal_article", "paywall_teaser", "empty_shell", "canonical_og",
        "latin1_wrong_charset", "atom_entry_only", "truncated_page",
    } <= names


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_golden_case(case) -> None:
    assert case.expected is not None, f"{case.name}: run scripts/regen_golden.py"
    result = extract_article(build_input(case))
    assert check_failures(case, result) == []
    observed = observed_fields(result)
    differences = {
        key: (case.expected.get(key), value)
        for key, value in observed.items()
        if case.expected.get(key) != value
    }
    assert differences == {}, "(expected, observed); regenerate only if the change is intended"


def test_extraction_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network use during extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: attempts.append(args) or [])
    for case in CASES:
        assert extract_article(build_input(case)).method != ""
    assert attempts == []
