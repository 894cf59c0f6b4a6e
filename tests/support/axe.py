"""axe-core, the accessibility checker, for the browser tests: its ``axe.min.js`` from npm.

The file is not kept in the repository. The first run takes the pinned release from the
npm registry with ``npm pack`` and keeps it in a cache outside the work tree
(``$XDG_CACHE_HOME/newswatch``, else ``~/.cache/newswatch``); ``NEWSWATCH_TEST_AXE_JS`` names a
copy to use instead (for a machine without the registry).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

AXE_VERSION = "4.14.1"  # pinned: a new release can add rules; move it on on purpose
MEMBER = "package/axe.min.js"


class AxeUnavailable(RuntimeError):
    """axe.min.js could not be found or fetched; the message says why and what to do."""


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "newswatch" / f"axe-core-{AXE_VERSION}"


def fetch_with_npm(target: Path) -> None:
    """``npm pack axe-core@VERSION`` into a scratch folder; its axe.min.js to ``target``."""
    npm = shutil.which("npm")
    if npm is None:
        raise AxeUnavailable(
            f"axe-core {AXE_VERSION} is not cached at {target} and npm is not on PATH: install "
            "Node.js and npm, or set NEWSWATCH_TEST_AXE_JS to a copy of axe.min.js"
        )
    with tempfile.TemporaryDirectory(prefix="newswatch-axe-") as scratch:
        done = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", scratch, "--silent"],
            capture_output=True, text=True, timeout=180, cwd=scratch,
        )
        packed = sorted(Path(scratch).glob("axe-core-*.tgz"))
        if done.returncode != 0 or not packed:
            raise AxeUnavailable(
                f"`npm pack axe-core@{AXE_VERSION}` failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-600:]}; check access to the npm registry, "
                "or set NEWSWATCH_TEST_AXE_JS to a copy of axe.min.js"
            )
        with tarfile.open(packed[0]) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise AxeUnavailable(f"{packed[0].name} holds no {MEMBER}")
            data = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)  # whole or not at all, should two runs fetch at once


def axe_source() -> str:
    """The text of axe.min.js, fetched once per machine; AxeUnavailable when it cannot be had."""
    given = os.environ.get("NEWSWATCH_TEST_AXE_JS")
    if given:
        path = Path(given)
        if not path.is_file():
            raise AxeUnavailable(f"NEWSWATCH_TEST_AXE_JS={given} is not a file; point it at axe.min.js or unset it")
    else:
        path = cache_dir() / "axe.min.js"
        if not path.is_file():
            fetch_with_npm(path)
    source = path.read_text(encoding="utf-8")
    if "/*! axe v" not in source[:200]:
        raise AxeUnavailable(f"{path} does not look like axe.min.js; delete it to fetch it again")
    return source
