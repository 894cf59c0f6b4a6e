"""The compose stack in Docker: the real docker-compose.yml with tests/docker/compose.host.yml.

Starts, as containers of the image built from the Dockerfile (scripts/build_image.sh),
the Prefect server, migrate, bootstrap, the control worker, two shard workers and the
web app, on host networking, against scratch databases on the machine's PostgreSQL.
Every port is free and chosen at run time, and the compose project has a name of its
own, so runs beside other work on the machine do not collide. ``stop`` removes the
containers and volumes (and says if any were left), then drops the databases.

docker-compose merges the two files itself (`config`), and the stack runs from its
result with two changes an override file cannot make: host-network services lose their
published ports, which Docker refuses (such a container listens on the host already),
and the second shard worker is a copy of the merged `worker` service with a health port
of its own (with host networking, `--scale worker=2` replicas would share one).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from tests.scale.cluster import ScratchDatabases, free_port
from tests.scale.compose import COMPOSE_FILE, REPO
from tests.scale.prefect_api import CONTROL_POOL, ClusterError, PrefectApi

OVERRIDE_FILE = Path(__file__).with_name("compose.host.yml")
IMAGE = "newswatch:local"  # the tag docker-compose.yml gives the app services
# Started by `up`, in the real file's order.
SERVICES = ["prefect-server", "migrate", "bootstrap", "control-worker", "worker", "worker-2", "web"]
COMPOSE = os.environ.get("DOCKER_COMPOSE", "docker-compose")
DOCKER = os.environ.get("DOCKER", "docker")


class ComposeStack(PrefectApi):
    """``with ComposeStack(admin_url, workdir, config_dir, smtp_port) as stack: ...``"""

    def __init__(self, admin_url: str, workdir: Path, config_dir: Path, smtp_port: int) -> None:
        self.workdir = workdir
        self.config_dir = config_dir
        self.smtp_port = smtp_port
        # scripts/compose_test.sh names the project, to remove whatever a killed run leaves.
        self.project = os.environ.get("NEWSWATCH_TEST_COMPOSE_PROJECT") or f"newswatch-test-{uuid.uuid4().hex[:8]}"
        self.databases = ScratchDatabases(admin_url)
        self.prefect_port = free_port()
        self.web_port = free_port()
        self.health_ports = {"control-worker": free_port(), "worker": free_port(), "worker-2": free_port()}
        self.timings: dict[str, float] = {}
        self.left_behind: list[str] = []  # containers `down` did not remove (removed by force)
        self.files = [COMPOSE_FILE, OVERRIDE_FILE]
        super().__init__(f"http://127.0.0.1:{self.prefect_port}/api")

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> ComposeStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "empty.env").write_text("")
        self.databases.create("prefect", "newswatch")
        self.files = [self._merged_file()]
        started = time.monotonic()
        # `up` waits for each service's conditions (healthy, completed) before its dependents.
        self.compose("up", "--detach", "--no-build", *SERVICES, timeout=900)
        self.timings["up (server, migrate, bootstrap, workers, web)"] = round(time.monotonic() - started, 1)
        self._wait_until_ready()
        self.timings["ready (all healthy, 3 workers online)"] = round(time.monotonic() - started, 1)

    def stop(self) -> None:
        self.close()
        for container in self.containers():  # kept beside the test's other files
            (self.workdir / f"{container['name']}.log").write_text(self.container_log(container["id"]))
        try:
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", timeout=300, check=False)
        finally:
            self.left_behind = [c["name"] for c in self.containers()]
            if self.left_behind:
                subprocess.run([DOCKER, "rm", "--force", "--volumes", *self.left_behind], capture_output=True, timeout=120)
            self.databases.drop()

    # -- docker-compose and docker ----------------------------------------------------------

    def _merged_file(self) -> Path:
        """docker-compose.yml with the override, as compose merges them, less the published
        ports of host-network services, plus a second shard worker."""
        merged = yaml.safe_load(self.compose("config").stdout)
        services = merged["services"]
        for spec in services.values():
            if spec.get("network_mode") == "host":
                spec.pop("ports", None)
        second = copy.deepcopy(services["worker"])
        second["environment"]["PREFECT_WORKER_WEBSERVER_PORT"] = str(self.health_ports["worker-2"])
        services["worker-2"] = second
        path = self.workdir / "compose.merged.yml"
        path.write_text(yaml.safe_dump(merged, sort_keys=False))
        return path

    def variables(self) -> dict[str, str]:
        """What .env gives compose, plus the override's NW_TEST_* values."""
        admin = make_url(self.databases.admin_url)
        return {
            "POSTGRES_USER": admin.username or "postgres",
            "POSTGRES_PASSWORD": "unused-trust-auth",  # required by the real file
            "NEWSWATCH_CONFIG_DIR": str(self.config_dir),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp_port),
            "SMTP_STARTTLS": "false",
            "NEWSWATCH_WEB_PORT": str(self.web_port),
            "NW_TEST_ADMIN_DSN": admin.set(drivername="postgresql").render_as_string(hide_password=False),
            "NW_TEST_DATABASE_URL": self.databases.url("newswatch"),
            "NW_TEST_PREFECT_DATABASE_URL": self.databases.url("prefect", driver="asyncpg"),
            "NW_TEST_PREFECT_PORT": str(self.prefect_port),
            "NW_TEST_CONTROL_HEALTH_PORT": str(self.health_ports["control-worker"]),
            "NW_TEST_WORKER_HEALTH_PORT": str(self.health_ports["worker"]),
        }

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NEWSWATCH_", "NW_TEST_"))}
        files = [part for path in self.files for part in ("--file", str(path))]
        command = [
            COMPOSE, "--project-name", self.project, "--project-directory", str(REPO),
            "--env-file", str(self.workdir / "empty.env"), *files, *args,
        ]
        result = subprocess.run(
            command, cwd=REPO, env={**base, **self.variables()}, capture_output=True, text=True, timeout=timeout
        )
        with open(self.workdir / "compose.log", "a") as log:
            log.write(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise ClusterError(f"`docker-compose {args[0]}` exited {result.returncode}:\n{result.stderr[-3000:]}\n{self.logs()}")
        return result

    def containers(self) -> list[dict[str, str]]:
        """This project's containers (one-off `run` containers too): id, name, service."""
        result = subprocess.run(
            [DOCKER, "ps", "--all", "--filter", f"label=com.docker.compose.project={self.project}", "--format",
             '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}'],
            capture_output=True, text=True, timeout=60,
        )
        rows = [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
        return [{"id": r[0], "name": r[1], "service": r[2]} for r in rows]

    def inspect(self, container: str) -> dict:
        result = subprocess.run([DOCKER, "inspect", container], capture_output=True, text=True, timeout=60, check=True)
        return json.loads(result.stdout)[0]

    def exec(self, container: str, *argv: str) -> str:
        result = subprocess.run([DOCKER, "exec", container, *argv], capture_output=True, text=True, timeout=60, check=True)
        return result.stdout

    def container_log(self, container: str) -> str:
        result = subprocess.run([DOCKER, "logs", container], capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"===== {c['name']} =====\n{self.container_log(c['id'])[-tail:]}" for c in self.containers()
        )

    # -- state --------------------------------------------------------------------------

    def shard_workers(self) -> list[dict[str, str]]:
        return [c for c in self.containers() if c["service"] in ("worker", "worker-2")]

    def worker_of(self, run_name: str) -> str | None:
        """Which container's worker started a run, read from its log."""
        for container in self.containers():
            if f"Flow run '{run_name}' submitted to infrastructure" in self.container_log(container["id"]):
                return container["name"]
        return None

    def health(self, container: str) -> str | None:
        state = self.inspect(container)["State"]
        return (state.get("Health") or {}).get("Status")

    def _wait_until_ready(self, timeout: float = 240) -> None:
        """Every long-running container healthy, and the workers online in their pools."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [c for c in self.containers() if c["service"] not in ("migrate", "bootstrap")]
            exited = [c["name"] for c in running if not self.inspect(c["id"])["State"]["Running"]]
            if exited:
                raise ClusterError(f"containers exited: {exited}\n{self.logs()}")
            healthy = all(self.health(c["id"]) == "healthy" for c in running)
            if healthy and len(self.online_workers()) >= 2 and self.online_workers(CONTROL_POOL):
                return
            time.sleep(2)
        raise ClusterError(f"the stack was not ready in {timeout:.0f} s:\n{self.logs()}")
