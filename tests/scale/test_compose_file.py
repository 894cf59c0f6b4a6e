"""docker-compose.yml, prefect.yaml, the Dockerfile and .env.example point at real things.

Checked against the code, without a Docker engine (tests/docker/ runs the stack in one):
every command a service runs exists with the options it passes, every environment
variable is a real newswatch or Prefect setting and validates, prefect.yaml's entrypoints
are real flows, health checks and start order are declared, images are pinned,
requirements.lock satisfies pyproject.toml, and no secret is written in the files.
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.scale.compose import (
    COMPOSE_FILE,
    REPO,
    interpolate,
    load_compose,
    load_prefect_file,
    read_env_file,
    service_command,
    service_environment,
    variables_used,
)

COMPOSE_TEXT = COMPOSE_FILE.read_text(encoding="utf-8")
COMPOSE = load_compose()
SERVICES = COMPOSE["services"]
APP_SERVICES = [name for name, spec in SERVICES.items() if spec.get("image") == "newswatch:local"]
ENV_VALUES = read_env_file()
BOOTSTRAP_SCRIPT = REPO / "docker" / "bootstrap.sh"
HEALTH_SCRIPT = REPO / "docker" / "health.py"
LOCK_FILE = REPO / "requirements.lock"
DOCKERFILE = (REPO / "Dockerfile").read_text()
# NEWSWATCH_ variables that are not settings fields, and the code that reads each.
NON_SETTING_VARIABLES = {
    "NEWSWATCH_CONFIG": REPO / "config" / "settings.py",  # the config file's path
    "NEWSWATCH_NOTIFY_SLACK_WEBHOOK": REPO / "flows" / "cli" / "operations.py",  # bootstrap's option
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|WEBHOOK|API_KEY", re.IGNORECASE)


def all_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) for every newswatch/prefect command the stack runs, the bootstrap
    script's lines included."""
    commands = [(name, service_command(COMPOSE, name)) for name, spec in SERVICES.items() if "command" in spec]
    for line in BOOTSTRAP_SCRIPT.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(("newswatch ", "prefect ")):
            commands.append(("docker/bootstrap.sh", line.replace('"', "").split()))
    return commands


def subcommand_and_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """``prefect --no-prompt worker start --pool x`` -> (["worker", "start"], ["--pool"])."""
    words = [w for w in argv[1:] if w != "--no-prompt"]  # prefect's global flag
    sub: list[str] = []
    for word in words:
        if word.startswith("-"):
            break
        sub.append(word)
    options = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    return sub, options


# -- services and commands ---------------------------------------------------------------


def test_the_stack_has_its_services() -> None:
    assert {"postgres", "prefect-server", "migrate", "bootstrap", "worker", "control-worker", "web"} <= set(SERVICES)
    assert SERVICES["mailpit"]["profiles"] == ["mail"], "the SMTP catcher is optional"
    # Scaled workers must not pin a name or a host port (replicas would clash).
    assert "container_name" not in SERVICES["worker"] and "ports" not in SERVICES["worker"]
    assert all(SERVICES[name]["build"] == "." for name in APP_SERVICES)
    assert set(APP_SERVICES) >= {"prefect-server", "migrate", "bootstrap", "worker", "control-worker", "web"}


def test_every_image_is_pinned_to_a_release() -> None:
    for name, spec in SERVICES.items():
        if name in APP_SERVICES:
            continue  # built here from the Dockerfile
        repository, _, tag = spec["image"].rpartition(":")
        assert repository and re.search(r"\d", tag) and tag != "latest", f"{name}: pin {spec['image']} to a release"


def test_every_service_command_is_a_list_of_a_known_program() -> None:
    for name, argv in all_commands():
        if name == "bootstrap":
            assert argv[:2] == ["sh", "docker/bootstrap.sh"]
            continue
        assert argv[0] in ("newswatch", "prefect"), f"{name}: unexpected program {argv[0]}"


def test_newswatch_commands_exist_with_their_options() -> None:
    from flows.cli import app

    runner = CliRunner()
    checked = 0
    for where, argv in all_commands():
        if argv[0] != "newswatch":
            continue
        sub, options = subcommand_and_options(argv)
        result = runner.invoke(app, [*sub, "--help"])
        assert result.exit_code == 0, f"{where}: `newswatch {' '.join(sub)}` is not a command:\n{result.output}"
        for option in options:
            assert option in result.output, f"{where}: `newswatch {' '.join(sub)}` has no {option}"
        checked += 1
    assert checked >= 2  # migrate's db upgrade and bootstrap's bootstrap


def test_prefect_commands_exist_with_their_options(tmp_path: Path) -> None:
    commands = [(where, argv) for where, argv in all_commands() if argv[0] == "prefect"]
    assert {tuple(subcommand_and_options(argv)[0]) for _, argv in commands} >= {
        ("server", "start"), ("worker", "start"), ("deploy",),
    }
    prefect = Path(sys.executable).parent / "prefect"
    env = {"PATH": str(Path(sys.executable).parent), "PREFECT_HOME": str(tmp_path), "COLUMNS": "200",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    running = {}
    for where, argv in commands:  # in parallel: each costs a prefect import
        sub, options = subcommand_and_options(argv)
        process = subprocess.Popen([str(prefect), *sub, "--help"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        running[(where, tuple(sub), tuple(options))] = process
    for (where, sub, options), process in running.items():
        output = process.communicate(timeout=120)[0].decode(errors="replace")
        assert process.returncode == 0, f"{where}: `prefect {' '.join(sub)}` failed:\n{output}"
        for option in options:
            assert option in output, f"{where}: `prefect {' '.join(sub)}` has no {option}"


def test_the_bootstrap_script_is_valid_shell_and_deploys_prefect_yaml() -> None:
    result = subprocess.run(["sh", "-n", str(BOOTSTRAP_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    text = BOOTSTRAP_SCRIPT.read_text()
    assert "set -eu" in text  # a failed step fails the one-shot service, and the workers wait
    assert "deploy --all" in text and "prefect.yaml" in text


# -- environment -------------------------------------------------------------------------


def service_env(name: str) -> dict[str, str]:
    return service_environment(COMPOSE, name, ENV_VALUES)


def newswatch_field(name: str) -> Any:
    """The settings field a NEWSWATCH_A__B variable sets, or None."""
    from pydantic import BaseModel

    from config.settings import ENV_PREFIX, Settings

    model: Any = Settings
    field = None
    for part in name.removeprefix(ENV_PREFIX).lower().split("__"):
        fields = model.model_fields if inspect.isclass(model) and issubclass(model, BaseModel) else {}
        field = fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if inspect.isclass(a)]
        model = next((a for a in candidates if issubclass(a, BaseModel)), None)
    return field


def test_newswatch_variables_are_settings_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.settings import Settings

    for service in APP_SERVICES:
        env = service_env(service)
        names = [k for k in env if k.startswith("NEWSWATCH_")]
        for name in names:
            if name in NON_SETTING_VARIABLES:
                assert name in NON_SETTING_VARIABLES[name].read_text(), f"{name} is read nowhere"
                continue
            assert newswatch_field(name) is not None, f"{service}: {name} is not a newswatch setting"
        for name in names:
            if name not in NON_SETTING_VARIABLES:
                monkeypatch.setenv(name, env[name])
        settings = Settings()  # the values, as .env.example gives them, validate
        if "NEWSWATCH_DATABASE_URL" in env:
            assert settings.database_url.startswith("postgresql+psycopg://")
            assert settings.database_url.endswith("@postgres:5432/newswatch")
        for name in names:
            monkeypatch.delenv(name, raising=False)


def test_prefect_variables_are_settings_and_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import Settings
    from prefect.settings.legacy import _get_valid_setting_names

    valid = _get_valid_setting_names(Settings)
    for service in APP_SERVICES:
        env = {k: v for k, v in service_env(service).items() if k.startswith("PREFECT_")}
        for name, value in env.items():
            assert name in valid, f"{service}: {name} is not a Prefect setting"
            monkeypatch.setenv(name, value)
        settings = Settings()  # raises on a value Prefect would reject at start
        if service == "prefect-server":
            server = settings.server
            assert settings.server.database.connection_url.get_secret_value().startswith("postgresql+asyncpg://")
            assert server.services.db_vacuum.enabled_vacuum_types >= {"events", "flow_runs"}
            assert server.services.db_vacuum.retention_period.days >= 1
            assert server.events.retention_period.days >= 1
            assert server.analytics_enabled is False
        for name in env:
            monkeypatch.delenv(name)


def test_workers_and_one_shots_share_the_newswatch_environment() -> None:
    worker = service_env("worker")
    for service in ("migrate", "bootstrap", "control-worker"):
        env = service_env(service)
        for key in ("NEWSWATCH_CONFIG", "NEWSWATCH_DATABASE_URL", "PREFECT_API_URL"):
            assert env[key] == worker[key], f"{service} and worker disagree on {key}"
    assert worker["PREFECT_API_URL"] == "http://prefect-server:4200/api"


# -- health and order ---------------------------------------------------------------------


def test_long_running_services_have_health_checks() -> None:
    for name in ("postgres", "prefect-server", "worker", "control-worker", "web", "mailpit"):
        test = SERVICES[name].get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1, f"{name} has no health check"
    # The app services' checks call docker/health.py on the port their environment sets:
    # the Prefect API's health, the worker's `--with-healthcheck` endpoint, the web app.
    expected = {
        "prefect-server": ("PREFECT_SERVER_API_PORT", "/api/health"),
        "worker": ("PREFECT_WORKER_WEBSERVER_PORT", "/health"),
        "control-worker": ("PREFECT_WORKER_WEBSERVER_PORT", "/health"),
        "web": ("NEWSWATCH_WEB__PORT", "/static/style.css"),
    }
    for name, (variable, path) in expected.items():
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[1:5] == ["python", "docker/health.py", variable, path], name
        assert variable in SERVICES[name]["environment"], f"{name} does not set {variable}"
    for name in ("worker", "control-worker"):
        assert "--with-healthcheck" in SERVICES[name]["command"]
    assert (REPO / "flows" / "web" / "static" / "style.css").is_file()


def test_the_health_script_tells_an_answer_from_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.httpserver import LocalSite

    def health(*args: str) -> int:
        result = subprocess.run([sys.executable, str(HEALTH_SCRIPT), *args], capture_output=True, timeout=30)
        return result.returncode

    with LocalSite() as site:
        site.route("/health", body=b"ok")
        site.route("/locked", status=401, body=b"who?")
        monkeypatch.setenv("TEST_HEALTH_PORT", str(site.port))
        assert health("TEST_HEALTH_PORT", "/health") == 0
        assert health("TEST_HEALTH_PORT", "/locked") == 1
        assert health("TEST_HEALTH_PORT", "/locked", "--any-answer") == 0
        assert health("TEST_HEALTH_PORT", "/missing") == 1
        assert health("UNSET_HEALTH_PORT_VARIABLE", "/health") == 2
    from tests.scale.cluster import free_port

    monkeypatch.setenv("TEST_HEALTH_PORT", str(free_port()))  # nobody listens there
    assert health("TEST_HEALTH_PORT", "/health", "--any-answer") == 1


def test_services_start_in_order() -> None:
    def after(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in SERVICES[name].get("depends_on", {}).items()}

    assert after("prefect-server") == {"postgres": "service_healthy"}
    assert after("migrate") == {"postgres": "service_healthy"}
    assert after("bootstrap") == {"prefect-server": "service_healthy"}
    assert after("web") == {"migrate": "service_completed_successfully"}
    for name in ("worker", "control-worker"):
        assert after(name) == {
            "prefect-server": "service_healthy",
            "migrate": "service_completed_successfully",
            "bootstrap": "service_completed_successfully",
        }


def test_workers_on_another_machine_reach_what_the_first_publishes() -> None:
    """docker/remote-workers.yml points the worker's service names at the first machine;
    docker/expose.yml publishes there the ports those names are used with."""
    from urllib.parse import urlsplit

    remote = load_compose(REPO / "docker" / "remote-workers.yml")["services"]
    expose = load_compose(REPO / "docker" / "expose.yml")["services"]
    assert set(remote) == {"worker"}, "only shard workers run on the other machines"
    hosts = {entry.split(":", 1)[0]: entry.split(":", 1)[1] for entry in remote["worker"]["extra_hosts"]}
    assert set(hosts.values()) == {"${CLUSTER_HOST:?set CLUSTER_HOST in .env to the first machine's address}"}
    worker = service_env("worker")
    used = {urlsplit(worker[key].replace("postgresql+psycopg", "postgresql")) for key in ("PREFECT_API_URL", "NEWSWATCH_DATABASE_URL")}
    assert {url.hostname for url in used} == set(hosts) == set(expose)
    for url in used:
        published = [p.rsplit(":", 1)[1] for p in expose[url.hostname]["ports"]]
        assert published == [str(url.port)], f"{url.hostname}: {url.port} is not published"


def test_postgres_gets_both_databases() -> None:
    init = [v for v in SERVICES["postgres"]["volumes"] if "/docker-entrypoint-initdb.d/" in v]
    assert init, "an init script creates the prefect database"
    script = REPO / init[0].split(":")[0]
    assert re.search(r"CREATE DATABASE prefect\b", script.read_text(), re.IGNORECASE)
    assert SERVICES["postgres"]["environment"]["POSTGRES_DB"] == "newswatch"
    assert service_env("prefect-server")["PREFECT_API_DATABASE_CONNECTION_URL"].endswith("@postgres:5432/prefect")


# -- secrets --------------------------------------------------------------------------------


def test_no_secret_is_written_in_the_compose_file() -> None:
    for name, spec in SERVICES.items():
        environment = spec.get("environment") or {}
        for key, value in environment.items():
            value = str(value)
            if SECRET_NAME.search(key):
                assert re.fullmatch(r"\$\{[^}]+\}", value), f"{name}: {key} must come from .env, not the file"
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password.startswith("${"), f"{name}: {key} has a password written in it"
    # A required password fails loudly when .env lacks it, rather than defaulting to something.
    assert "${POSTGRES_PASSWORD:?" in COMPOSE_TEXT
    assert "POSTGRES_PASSWORD:-" not in COMPOSE_TEXT


def test_env_example_covers_every_variable_with_placeholders() -> None:
    used = variables_used(COMPOSE_TEXT)
    assert used, "the compose file takes its secrets from .env"
    missing = used - set(ENV_VALUES)
    assert not missing, f".env.example lacks {sorted(missing)}"
    for key, value in ENV_VALUES.items():
        if SECRET_NAME.search(key) and value:
            assert "change-me" in value, f".env.example: {key} must be a placeholder"
    # Every value compose reads interpolates with .env.example's values.
    interpolate(COMPOSE_TEXT, ENV_VALUES)


def test_env_files_stay_out_of_the_image() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


# -- prefect.yaml ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployments() -> list[dict[str, Any]]:
    return load_prefect_file()["deployments"]


def load_entrypoint(entrypoint: str) -> Any:
    from prefect.flows import load_flow_from_entrypoint

    path, _, _ = entrypoint.partition(":")
    assert (REPO / path).is_file(), f"{entrypoint}: no such file"
    return load_flow_from_entrypoint(str(REPO / entrypoint), use_placeholder_flow=False)


def test_prefect_yaml_entrypoints_are_real_flows_taking_their_parameters(deployments: list[dict[str, Any]]) -> None:
    from prefect import Flow

    names = set()
    for deployment in deployments:
        flow = load_entrypoint(deployment["entrypoint"])
        assert isinstance(flow, Flow), deployment["entrypoint"]
        accepted = inspect.signature(flow.fn).parameters
        for parameter in deployment.get("parameters") or {}:
            assert parameter in accepted, f"{deployment['name']}: {flow.name} takes no {parameter!r}"
        # config_path stays unset: the flow reads NEWSWATCH_CONFIG on the worker.
        assert "config_path" in accepted and "config_path" not in (deployment.get("parameters") or {})
        names.add(f"{flow.name}/{deployment['name']}")
    assert names == {"monitor/monitor", "monitor-sharded/monitor-sharded", "deliver/deliver"}


def test_prefect_yaml_matches_the_pools_and_the_sharded_flow(deployments: list[dict[str, Any]]) -> None:
    from flows import scale

    by_name = {d["name"]: d for d in deployments}
    assert scale.MONITOR_DEPLOYMENT == "monitor/monitor"
    assert by_name["monitor"]["work_pool"]["name"] == scale.WORK_POOL
    assert by_name["monitor-sharded"]["work_pool"]["name"] == scale.CONTROL_POOL
    assert by_name["deliver"]["work_pool"]["name"] == scale.CONTROL_POOL
    # The compose workers poll exactly those pools; shard workers take one run at a time.
    worker, control = service_command(COMPOSE, "worker"), service_command(COMPOSE, "control-worker")
    assert worker[worker.index("--pool") + 1] == scale.WORK_POOL
    assert worker[worker.index("--limit") + 1] == "1"
    assert control[control.index("--pool") + 1] == scale.CONTROL_POOL
    for name in ("monitor-sharded", "deliver"):
        assert by_name[name]["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
        assert by_name[name]["schedules"], f"{name} runs on a schedule"
    assert "schedules" not in by_name["monitor"]  # shards are started by monitor-sharded only


def test_prefect_yaml_runs_from_the_image_project_folder() -> None:
    document = load_prefect_file()
    dockerfile = (REPO / "Dockerfile").read_text()
    workdir = re.search(r"^WORKDIR\s+(\S+)", dockerfile, re.MULTILINE).group(1)
    directories = [body["directory"] for step in document["pull"] for body in step.values()]
    assert directories == [workdir]
    assert document["build"] is None and document["push"] is None  # nothing to fetch: no git, no network


def test_dockerfile_runs_as_a_user_with_the_newswatch_entrypoint() -> None:
    dockerfile = DOCKERFILE
    # The base is a build argument whose default is the public image.
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.MULTILINE)
    user = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["newswatch"\]', dockerfile, re.MULTILINE)
    ignored = set((REPO / ".dockerignore").read_text().split())
    for source in re.findall(r"^COPY\s+(.+?)\s+\S+$", dockerfile, re.MULTILINE):
        for item in source.split():
            assert (REPO / item).exists(), f"Dockerfile copies {item}, which does not exist"
            assert item not in ignored, f"Dockerfile copies {item}, which .dockerignore leaves out"


# -- the image's dependencies ------------------------------------------------------------------


def locked_versions() -> dict[str, str]:
    """name -> version of every pin in requirements.lock (names normalised)."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", LOCK_FILE.read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins}


def test_the_lock_pins_every_dependency_within_its_range() -> None:
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    locked = locked_versions()
    wanted = pyproject["project"]["dependencies"] + pyproject["build-system"]["requires"]
    for line in wanted:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in locked, f"requirements.lock lacks {name}: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside {requirement.specifier}: run `make lock`"
        )
    # Hash-checked: pip refuses a file it cannot verify.
    lock = LOCK_FILE.read_text()
    assert lock.count("--hash=sha256:") >= len(locked)
    # Nothing of one machine's setup: no index, no local folder of packages.
    assert not re.search(r"index-url|find-links|file:|^-e ", lock, re.MULTILINE)


def test_dependencies_install_in_a_layer_of_their_own() -> None:
    """Only the lock file is copied before the dependency install, so a code change
    reuses the installed dependencies; the project installs afterwards, offline."""
    lines = [line.strip() for line in DOCKERFILE.splitlines()]
    install = next(i for i, line in enumerate(lines) if "--require-hashes -r requirements.lock" in line)
    copies_before = [line for line in lines[:install] if line.startswith("COPY ")]
    assert copies_before == ["COPY requirements.lock ./"]
    project_install = next(i for i, line in enumerate(lines) if line.startswith("RUN pip install") and "--no-index" in line)
    assert project_install > install and "--no-deps" in lines[project_install]
    # Index and certificates arrive as build secrets, never as ARG or ENV (kept in the image).
    assert "--mount=type=secret,id=pip_index_url" in DOCKERFILE and "--mount=type=secret,id=pip_cert" in DOCKERFILE
    assert not re.search(r"^(ARG|ENV)\b.*(PIP_INDEX_URL|PIP_CERT|CA_BUNDLE)", DOCKERFILE, re.MULTILINE)
    assert "requirements.lock" not in (REPO / ".dockerignore").read_text().split()
