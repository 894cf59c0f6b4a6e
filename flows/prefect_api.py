"""The Prefect API a one-shot ``newswatch run`` records its flow run in.

In order of preference:

1. a server the user named (``PREFECT_API_URL``, in the environment or a Prefect profile);
2. a Prefect server already answering on the config's ``schedule.server_host:server_port``
   (the one ``newswatch serve`` starts, or ``prefect server start`` on its default port);
3. a server an earlier run started and kept (below), still answering;
4. otherwise a server of the run's own: Prefect's ephemeral API application, started as a
   child process the moment the run begins, so it boots while the run imports its modules
   and opens the database, instead of after (Prefect starts its ephemeral server only at
   the first flow call, and imports the whole server into the client process to do so).

Starting that server is most of a one-shot run's fixed cost (about 5 CPU s of Prefect's
imports). So by default the run's own server is *kept*: it outlives the run, in a session
of its own, and stops by itself once no request has reached it for
``schedule.keep_server_minutes``; the next run finds it through a state file in
``PREFECT_HOME`` and starts at once. With ``keep_server_minutes: 0`` the server is the
run's alone and is stopped at its end, but only once it has recorded every task run of
the flow: Prefect's ephemeral server is stopped at interpreter exit, often while its
task-run recorder is still writing the last task runs' events, which are cancelled
(``Error flushing … events`` with a CancelledError traceback) and left half-recorded.

Nothing here imports prefect at module level: choosing and starting the server must
happen before prefect is imported.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from storage.clock import utcnow

STARTUP_SECONDS = 300  # a new PREFECT_HOME on a loaded machine has taken minutes
RECORDING_SECONDS = 60
STOP_SECONDS = 30
# What Prefect's own ephemeral server sets: no UI, only the services an ephemeral API runs.
_EPHEMERAL_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
KEPT_STATE_FILE = "newswatch-run-server.json"  # in PREFECT_HOME: the kept server, if any
KEPT_LOCK_FILE = "newswatch-run-server.lock"
KEPT_LOG_FILE = "newswatch-run-server.log"  # a kept server's stderr: it outlives the terminal


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


def prefect_home() -> Path:
    """Prefect's home as the server will see it (set in the environment, else ~/.prefect)."""
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def server_key() -> str:
    """What a kept server must share with a run that would use it: the Python and Prefect
    it runs and every PREFECT_ setting it started with (its database, above all)."""
    settings = sorted((k, v) for k, v in os.environ.items() if k.startswith("PREFECT_") and k != "PREFECT_API_URL")
    text = json.dumps([sys.executable, version("prefect"), settings])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class RunServer:
    """Prefect's ephemeral API application in a child process on a port bound here."""

    process: subprocess.Popen[bytes] | None  # None: a kept server another run started
    api_url: str
    pid: int
    kept: bool = False
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, keep_seconds: float = 0) -> RunServer:
        """Start the server; with ``keep_seconds`` it outlives this process (module docstring)."""
        listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listening.bind(("127.0.0.1", 0))
        listening.listen(128)
        port = listening.getsockname()[1]
        command = [sys.executable, "-m", "flows.run_server", str(listening.fileno())]
        env = {**os.environ, **_EPHEMERAL_ENV}
        try:
            if keep_seconds > 0:
                home = prefect_home()
                with open(home / KEPT_LOG_FILE, "ab") as log:
                    process = subprocess.Popen(
                        [*command, "--keep-seconds", str(keep_seconds), "--state", str(home / KEPT_STATE_FILE),
                         "--lock", str(home / KEPT_LOCK_FILE)],
                        pass_fds=[listening.fileno()], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                        env=env, start_new_session=True,  # Ctrl-C on the run is not meant for it
                    )
            else:
                process = subprocess.Popen(
                    command, pass_fds=[listening.fileno()], stdin=subprocess.PIPE,
                    stdout=_stderr_fd(),  # stdout is the run's (--format json): never the server's
                    env=env,
                )
        finally:
            listening.close()  # the child holds it now
        return cls(process, f"http://127.0.0.1:{port}/api", process.pid, kept=keep_seconds > 0)

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return _is_run_server(self.pid)

    def wait_until_healthy(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = self.started + timeout
        with _plain_http_client(2) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    code = self.process.returncode if self.process is not None else "unknown"
                    raise ApiDidNotStart(
                        f"Prefect's API server exited with code {code} while starting "
                        f"(PREFECT_HOME={os.environ.get('PREFECT_HOME', '~/.prefect')}"
                        + (f"; its log: {prefect_home() / KEPT_LOG_FILE})" if self.kept else ")")
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
        if self.process is None:
            return
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
    source: str  # "configured", "local server", "kept server" or "own server"
    server: RunServer | None = None
    run_succeeded: bool = False  # set by the run: only then is a server it started kept

    @property
    def starts_kept_server(self) -> bool:
        """Whether this run started the server it will keep (and should say so)."""
        return self.server is not None and self.server.kept and self.server.process is not None

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
        if self.server is None or self.server.kept or task_runs <= 0:
            return True  # a kept server records them after the run as well as during it
        return wait_for_task_runs(self.server.api_url, flow_run_id, task_runs, timeout)

    def describe(self) -> dict[str, Any]:
        """For the run's summary: which API recorded the run."""
        described: dict[str, Any] = {"source": self.source, "url": self.api_url}
        if self.server is not None:
            described["server_pid"] = self.server.pid
        return described

    def close(self) -> None:
        if self.server is None:
            return
        if self.starts_kept_server and not self.run_succeeded:
            _forget_kept_server(self.server.pid)  # started for a run that failed: not worth keeping
            self.server.stop()
        elif not self.server.kept:
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


def choose_api(host: str, port: int, keep_seconds: float = 0) -> RunApi:
    """Pick the API for a run (module docstring), starting the run's own server when
    needed (kept for ``keep_seconds`` of idleness after the run, when above 0). Call
    before prefect is imported; settle with ``settle`` after."""
    if os.environ.get("PREFECT_API_URL"):
        return RunApi(None, "configured")
    local = f"http://{host}:{port}/api"
    if prefect_server_answers(local, timeout=0.5):
        return RunApi(local, "local server")
    if keep_seconds > 0:
        try:
            with _kept_server_lock():
                kept = _usable_kept_server()
                if kept is not None:
                    return RunApi(None, "kept server", kept)
                server = RunServer.start(keep_seconds)
                _write_state(server, keep_seconds)
                return RunApi(None, "own server", server)
        except OSError:
            pass  # PREFECT_HOME not writable here: Prefect says so itself when the run starts
    return RunApi(None, "own server", RunServer.start())


# A kept server ----------------------------------------------------------------------


@contextmanager
def _kept_server_lock() -> Iterator[None]:
    """Held while a run looks for or starts a kept server, and while a kept server decides
    to stop: a run never picks a server that is stopping, and two runs never start two."""
    with open(prefect_home() / KEPT_LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _proc_file(pid: int, name: str) -> bytes | None:
    """/proc/PID/NAME, or None where it cannot be read (the process is gone, or there is
    no /proc: not Linux)."""
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return None


def _signal_reaches(pid: int) -> bool:
    """Without /proc, alive is the best we can tell."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _is_run_server(pid: int) -> bool:
    """Whether ``pid`` is alive and is a run server (not another process given its pid)."""
    cmdline = _proc_file(pid, "cmdline")
    return _signal_reaches(pid) if cmdline is None else b"flows.run_server" in cmdline


def _still_running(pid: int) -> bool:
    """Whether ``pid`` has not exited yet. Not the cmdline check: a process that is
    exiting has no cmdline any more before it can be reaped."""
    stat = _proc_file(pid, "stat")
    if stat is None:
        return _signal_reaches(pid)
    # Zombie or dead: exited, or exiting (a leader shows Z while its last threads end).
    return stat.rpartition(b")")[2].split()[0] not in (b"Z", b"X")


def read_kept_state() -> dict[str, Any] | None:
    """The kept server's state file, or None when there is none (or it is unreadable)."""
    try:
        state = json.loads((prefect_home() / KEPT_STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and {"pid", "api_url", "key"} <= state.keys() else None


def _write_state(server: RunServer, keep_seconds: float) -> None:
    state = {
        "pid": server.pid, "api_url": server.api_url, "key": server_key(),
        "keep_seconds": keep_seconds, "started_at": utcnow().isoformat(timespec="seconds"),
    }
    path = prefect_home() / KEPT_STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(path)


def _usable_kept_server() -> RunServer | None:
    """The kept server of this PREFECT_HOME, if it is alive, was started with this run's
    settings and answers (or is still starting). Its health check, made under the lock,
    counts as a request, so the server cannot decide to stop before this run uses it."""
    state = read_kept_state()
    if state is None or state["key"] != server_key() or not _is_run_server(int(state["pid"])):
        return None
    server = RunServer(None, str(state["api_url"]), int(state["pid"]), kept=True)
    if prefect_server_answers(server.api_url, timeout=2.0):
        return server
    started = datetime.fromisoformat(str(state.get("started_at", "1970-01-01T00:00:00+00:00")))
    still_starting = (utcnow() - started).total_seconds() < STARTUP_SECONDS
    return server if still_starting else None


def _forget_kept_server(pid: int) -> None:
    """Remove the state file if it names ``pid``: a server this run started and now stops
    itself, through its own process handle (a process just started may not show its
    cmdline yet, so the checks of ``stop_kept_server`` are not for it)."""
    with _kept_server_lock():
        state = read_kept_state()
        if state is not None and int(state["pid"]) == pid:
            (prefect_home() / KEPT_STATE_FILE).unlink(missing_ok=True)


def stop_kept_server(timeout: float = STOP_SECONDS) -> dict[str, Any] | None:
    """Stop the kept server of this PREFECT_HOME gracefully; returns its state, or None
    when there was none."""
    with _kept_server_lock():
        state = read_kept_state()
        (prefect_home() / KEPT_STATE_FILE).unlink(missing_ok=True)
    if state is None or not _is_run_server(int(state["pid"])):
        return None
    pid = int(state["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _still_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _still_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _still_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return state


def kept_server_status() -> dict[str, Any] | None:
    """The kept server's state with whether it runs and answers, or None when there is none."""
    state = read_kept_state()
    if state is None or not _is_run_server(int(state["pid"])):
        return None
    return {**state, "answers": prefect_server_answers(str(state["api_url"])), "matches_settings": state["key"] == server_key()}


def settle(api: RunApi) -> RunApi:
    """Once prefect's settings can be read: a server named in a Prefect profile (or
    prefect.toml, .env) wins over the run's own, which is then stopped unused."""
    if api.server is None:
        return api
    from prefect.settings import Settings

    configured = Settings().api.url
    if configured:
        if api.server.process is not None:  # started by this run, for nothing: stop it
            _forget_kept_server(api.server.pid)
            api.server.stop()
        return RunApi(None, "configured")
    api.api_url = api.server.api_url
    return api
