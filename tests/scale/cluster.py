"""The compose stack, started natively: a Prefect server on PostgreSQL, the migration,
the bootstrap (work pool, limits, automations, deployments) and N process workers.

Each process runs the command its service names in docker-compose.yml, with the
service's environment from that file; only what differs off Docker is replaced:
addresses (127.0.0.1 and free ports instead of service names), scratch database names,
PREFECT_HOME, and the project folder in prefect.yaml's pull step (the repo, not /app).
The test process talks to the server over its REST API with httpx
(tests/scale/prefect_api.py), so it never imports prefect. Used by
tests/scale/test_cluster.py and benchmarks/workers_bench.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks import proctree
from tests.scale.compose import (
    REPO,
    load_compose,
    load_prefect_file,
    service_command,
    service_environment,
)
from tests.scale.prefect_api import CONTROL_POOL, ClusterError, PrefectApi

__all__ = ["Cluster", "ClusterError", "ScratchDatabases", "free_port"]

BIN = Path(sys.executable).parent  # the virtualenv's newswatch and prefect
# Stand-ins for .env when the harness interpolates the compose file.
HARNESS_VARIABLES = {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "unused-trust-auth"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ScratchDatabases:
    """Databases created on the local PostgreSQL for one cluster, dropped by :meth:`drop`."""

    admin_url: str  # e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    names: dict[str, str] = field(default_factory=dict)  # role ("prefect") -> database name

    def create(self, *roles: str) -> ScratchDatabases:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for role in roles:
                    name = f"newswatch_scale_{role}_{uuid.uuid4().hex[:8]}"
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
                    self.names[role] = name
        finally:
            engine.dispose()
        return self

    def url(self, role: str, driver: str = "psycopg") -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.admin_url).set(drivername=f"postgresql+{driver}", database=self.names[role])
        return url.render_as_string(hide_password=False)

    def drop(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for name in self.names.values():
                    connection.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                        {"n": name},
                    )
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        finally:
            engine.dispose()
        self.names.clear()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Cluster(PrefectApi):
    """``with Cluster(admin_url, workdir, config, workers=2) as cluster: cluster.start_run(...)``."""

    def __init__(
        self, admin_url: str, workdir: Path, config_path: Path, *, workers: int = 2,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.config_path = config_path
        self.worker_count = workers
        self.extra_env = extra_env or {}
        self.databases = ScratchDatabases(admin_url)
        self.compose = load_compose()
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}/api")
        self.processes: list[Process] = []
        self.workers: list[Process] = []  # the shard workers (pool newswatch)
        self.control: list[Process] = []  # the control worker (pool newswatch-control)
        self.health_urls: dict[str, str] = {}  # worker name -> its --with-healthcheck URL
        self.timings: dict[str, float] = {}

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """In the compose file's order: the migration alongside the server (both need only
        PostgreSQL), then bootstrap, then the workers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.databases.create("prefect", "newswatch")
        started = time.monotonic()
        migrate = self._spawn("migrate", service_command(self.compose, "migrate"), self._environment("migrate"))
        self._timed("server", self._start_server)
        self._finish(migrate, timeout=120)
        self.timings["migrate (alongside the server)"] = round(time.monotonic() - started, 1)
        bootstrap = service_command(self.compose, "bootstrap") + [str(self._local_prefect_file())]
        self._timed("bootstrap", lambda: self._run_once("bootstrap", bootstrap, timeout=240))
        self._timed("workers", self._start_workers)

    def stop(self) -> None:
        self.close()
        for process in reversed(self.processes):
            _stop_tree(process.popen)
        self.processes.clear()
        with contextlib.suppress(Exception):
            self.databases.drop()

    @property
    def newswatch_database_url(self) -> str:
        return self.databases.url("newswatch")

    # -- the processes ----------------------------------------------------------------

    def _environment(self, service: str) -> dict[str, str]:
        """The service's compose environment, then what differs off Docker."""
        base = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "NEWSWATCH_")) and k != "PYTEST_CURRENT_TEST"
        }
        variables = {**HARNESS_VARIABLES, "NEWSWATCH_CONFIG_DIR": str(self.config_path.parent)}
        env = {**base, **service_environment(self.compose, service, variables)}
        env.update({
            "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
            "PREFECT_HOME": str(self.workdir / "prefect-home"),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_LOGGING_LEVEL": "INFO",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        })
        if "NEWSWATCH_CONFIG" in env:
            env["NEWSWATCH_CONFIG"] = str(self.config_path)
        if "NEWSWATCH_DATABASE_URL" in env:
            env["NEWSWATCH_DATABASE_URL"] = self.newswatch_database_url
        for key in ("NEWSWATCH_SMTP__HOST", "NEWSWATCH_SMTP__PORT"):
            env.pop(key, None)  # no mail catcher here; the demo config has no subscribers
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log_path = self.workdir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(
                argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # its own group: we stop it whole
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def _run_once(self, service: str, argv: list[str], timeout: float = 120) -> None:
        self._finish(self._spawn(service, argv, self._environment(service)), timeout)

    def _finish(self, process: Process, timeout: float) -> None:
        """Wait for a one-shot service; it must exit 0, like compose's completed_successfully."""
        try:
            code = process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"{process.name} did not finish in {timeout:.0f} s:\n{process.log()[-3000:]}") from None
        if code != 0:
            raise ClusterError(f"{process.name} exited {code}:\n{process.log()[-3000:]}")

    def _start_server(self) -> None:
        argv = service_command(self.compose, "prefect-server")
        env = self._environment("prefect-server")
        env["PREFECT_SERVER_API_HOST"] = "127.0.0.1"
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.databases.url("prefect", driver="asyncpg")
        env["PREFECT_SERVER_API_PORT"] = str(self.port)
        env["PREFECT_UI_API_URL"] = self.api_url
        env.pop("PREFECT_API_URL")
        # Runs are started by the test, not by the schedules prefect.yaml gives them.
        env["PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED"] = "false"
        server = self._spawn("prefect-server", argv, env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if server.popen.poll() is not None:
                raise ClusterError(f"the Prefect server exited {server.popen.returncode}:\n{server.log()[-3000:]}")
            if self.healthy():
                return
            time.sleep(0.5)
        raise ClusterError(f"the Prefect server did not answer /api/health in 120 s:\n{server.log()[-3000:]}")

    def _local_prefect_file(self) -> Path:
        """prefect.yaml with the pull step pointing at this checkout instead of /app."""
        document = load_prefect_file()
        for step in document.get("pull") or []:
            for body in step.values():
                if isinstance(body, dict) and body.get("directory") == "/app":
                    body["directory"] = str(REPO)
        path = self.workdir / "prefect.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    def _start_workers(self) -> None:
        """The control worker and N shard workers, each with its health endpoint."""
        names = [("control-worker", "control-worker")]
        names += [("worker", f"worker-{index}") for index in range(self.worker_count)]
        for service, name in names:
            env = self._environment(service)
            port = free_port()
            env["PREFECT_WORKER_WEBSERVER_HOST"] = "127.0.0.1"
            env["PREFECT_WORKER_WEBSERVER_PORT"] = str(port)
            env["PREFECT_WORKER_QUERY_SECONDS"] = "2"  # the default 10 s poll only adds waiting here
            process = self._spawn(name, [*service_command(self.compose, service), "--name", name], env)
            (self.workers if service == "worker" else self.control).append(process)
            self.health_urls[name] = f"http://127.0.0.1:{port}/health"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for worker in [*self.control, *self.workers]:
                if worker.popen.poll() is not None:
                    raise ClusterError(f"{worker.name} exited {worker.popen.returncode}:\n{worker.log()[-3000:]}")
            if len(self.online_workers()) >= self.worker_count and self.online_workers(CONTROL_POOL):
                return
            time.sleep(1)
        raise ClusterError(f"{self.worker_count} workers did not come online in 90 s")

    def _timed(self, label: str, step: Any) -> None:
        started = time.monotonic()
        step()
        self.timings[label] = round(time.monotonic() - started, 1)

    # -- which worker ran what -----------------------------------------------------------

    def worker_of(self, run_name: str) -> str | None:
        """Which worker started a run, read from the workers' logs (another worker may
        have tried to submit it too and been told to abort)."""
        for worker in [*self.workers, *self.control]:
            if f"Flow run '{run_name}' submitted to infrastructure" in worker.log():
                return worker.name
        return None

    def logs(self, tail: int = 4000) -> str:
        return "\n".join(f"===== {p.name} =====\n{p.log()[-tail:]}" for p in self.processes)


def _stop_tree(popen: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM the process group (and any descendant that left it), then SIGKILL."""
    descendants = _descendants(popen.pid)
    groups = {popen.pid}
    for pid in descendants:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(pid))
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=grace)
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    for pid in descendants:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


def _descendants(pid: int) -> list[int]:
    return [p for p in proctree.tree(pid) if p != pid]
