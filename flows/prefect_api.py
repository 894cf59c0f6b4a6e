"""The Prefect API a one-shot ``newswatch run`` records its flow run in.

In order of preference:

1. a server the user named (``PREFECT_API_URL``, in the environment or a Prefect profile);
2. a Prefect server already answering on the config's ``schedule.server_host:server_port``
   (the one ``newswatch serve`` starts, or ``prefect server start`` on its default port);
3. otherwise a server of the run's own: Prefect's ephemeral API application, started as a
   child process the moment the run begins, so it boots while the run imports its modules
   and opens the database, instead of after (Prefect starts its ephemeral server only at
   the first flow call, and imports the whole server into the client process to do so).

The run's own server is stopped only once it has recorded every task run of the flow.
Prefect's ephemeral server is stopped at interpreter exit, often while its task-run
recorder is still writing the last task runs' events: those writes are cancelled, the
recorder logs ``Error flushing … events`` with a CancelledError traceback, and the task
runs are left half-recorded. Waiting first fixes both.

Nothing here imports prefect at module level: choosing and starting the server must
happen before prefect is imported.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

STARTUP_SECONDS = 300  # a new PREFECT_HOME on a loaded machine has taken minutes
RECORDING_SECONDS = 60
STOP_SECONDS = 30
# What Prefect's own ephemeral server sets: no UI, only the services an ephemeral API runs.
_EPHEMERAL_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


class ApiDidNotStart(Exception):
    """The run's own Prefect API server exited or did not answer in time."""


def _plain_http_client(timeout: float) -> httpx.Client:
    """For the Prefect API over plain HTTP: no CA bundle to load (httpx loads one for every
    client otherwise, tens of milliseconds of CPU), no proxy from the environment."""
    return httpx.Client(timeout=timeout, verify=False, trust_env=False)


def prefect_server_answers(api_url: str, timeout: float = 1.0) -> bool:
    """Whether a Prefect API answers its health check at ``api_url`` (…/api)."""
    try:
        with _plain_http_client(timeout) as client:
            response = client.get(f"{api_url.rstrip('/')}/health")
        return response.status_code == 200 and response.json() is True
    except (httpx.HTTPError, ValueError):
        return False


def _stderr_fd() -> int | None:
    """This process's stderr as a file descriptor (None where it is not a real file, as
    under a test runner that captures it: the child then inherits ours)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


@dataclass
class RunServer:
    """Prefect's ephemeral API application in a child process on a port bound here."""

    process: subprocess.Popen[bytes]
    api_url: str
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls) -> RunServer:
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        listening.listen(128)
        port = listening.getsockname()[1]
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "flows.run_server", str(listening.fileno())],
                pass_fds=[listening.fileno()], stdin=subprocess.PIPE,
                stdout=_stderr_fd(),  # stdout is the run's (--format json): never the server's
                env={**os.environ, **_EPHEMERAL_ENV},
            )
        finally:
            listening.close()  # the child holds it now
        return cls(process, f"http://127.0.0.1:{port}/api")

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = self.started + timeout
        with _plain_http_client(2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ApiDidNotStart(
                        f"Prefect's API server exited with code {self.process.returncode} while starting "
                        f"(PREFECT_HOME={os.environ.get('PREFECT_HOME', '~/.prefect')})"
                    )
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass  # not listening yet: the socket queues, the app is still importing
                time.sleep(0.05)
        raise ApiDidNotStart(
            f"Prefect's API server did not answer within {timeout:.0f} s; a Prefect server of "
            "your own (`newswatch serve`, or PREFECT_API_URL) avoids starting one per run"
        )

    def stop(self) -> None:
        """Graceful stop (SIGTERM: uvicorn ends its services, which flush), then kill."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdin is not None:
            self.process.stdin.close()


@dataclass
class RunApi:
    """The API chosen for one run: its URL, how it was found, and the run's own server."""

    api_url: str | None  # None: the user's Prefect settings name it
    source: str  # "configured", "local server" or "own server"
    server: RunServer | None = None

    @contextmanager
    def active(self) -> Iterator[None]:
        """Prefect settings for the flow call: this API, and heartbeats only on a server the
        user configured, whose zombie detection may watch them (`newswatch bootstrap`
        sets it up); elsewhere nothing reads them, and stopping their thread costs up to
        a second at the end of every run."""
        from prefect.settings import (
            PREFECT_API_URL,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
            temporary_settings,
        )

        updates: dict[Any, Any] = {}
        if self.api_url is not None:
            updates[PREFECT_API_URL] = self.api_url
        if self.source != "configured":
            updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
        if self.server is not None:
            self.server.wait_until_healthy()
        with temporary_settings(updates=updates):
            yield

    def wait_until_recorded(self, flow_run_id: Any, task_runs: int, timeout: float = RECORDING_SECONDS) -> bool:
        """On the run's own server, wait until it has recorded ``task_runs`` finished task
        runs of the flow run (the client reports them as events, which the server's
        task-run recorder writes a moment later). Other servers outlive the run."""
        if self.server is None or task_runs <= 0:
            return True
        return wait_for_task_runs(self.server.api_url, flow_run_id, task_runs, timeout)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def wait_for_task_runs(api_url: str, flow_run_id: Any, expected: int, timeout: float) -> bool:
    """Poll the REST API's task-run count until ``expected`` task runs of the flow run are
    in a final state, or ``timeout`` passes."""
    body = {
        "flow_runs": {"id": {"any_": [str(flow_run_id)]}},
        "task_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CANCELLED", "CRASHED"]}}},
    }
    deadline = time.monotonic() + timeout
    with _plain_http_client(10) as client:
        while True:
            response = client.post(f"{api_url}/task_runs/count", json=body)
            if response.status_code == 200 and int(response.json()) >= expected:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def choose_api(host: str, port: int) -> RunApi:
    """Pick the API for a run (module docstring), starting the run's own server when
    needed. Call before prefect is imported; settle with ``settle`` after."""
    if os.environ.get("PREFECT_API_URL"):
        return RunApi(None, "configured")
    local = f"http://{host}:{port}/api"
    if prefect_server_answers(local, timeout=0.5):
        return RunApi(local, "local server")
    return RunApi(None, "own server", RunServer.start())


def settle(api: RunApi) -> RunApi:
    """Once prefect's settings can be read: a server named in a Prefect profile (or
    prefect.toml, .env) wins over the run's own, which is then stopped unused."""
    if api.server is None:
        return api
    from prefect.settings import Settings

    configured = Settings().api.url
    if configured:
        api.close()
        return RunApi(None, "configured")
    api.api_url = api.server.api_url
    return api
