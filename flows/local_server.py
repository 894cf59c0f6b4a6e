"""A local Prefect server for ``newswatch serve`` on one machine.

Prefect's ephemeral in-process API runs flows but not its scheduler, so a long-lived
``serve`` needs a real server: this starts ``prefect server start`` as a child process
(SQLite under PREFECT_HOME, the UI on the same port), waits until it answers, and stops
it on exit. It must run before prefect is imported, so PREFECT_API_URL takes effect.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

STARTUP_SECONDS = 120


class ServerDidNotStart(Exception):
    pass


@contextmanager
def local_prefect_server(host: str, port: int, log_path: Path) -> Iterator[str]:
    """Yield the API URL: PREFECT_API_URL's when set, else a server started here."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    url = f"http://{host}:{port}/api"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
            start_new_session=True,  # Ctrl-C reaches us; we stop the server in order
        )
    try:
        _wait_until_healthy(url, process, log_path)
        os.environ["PREFECT_API_URL"] = url
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerDidNotStart(f"the Prefect server exited (code {process.returncode}); see {log_path}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServerDidNotStart(f"the Prefect server did not answer within {STARTUP_SECONDS} s; see {log_path}")
