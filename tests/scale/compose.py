"""Reading docker-compose.yml and prefect.yaml the way Docker Compose and Prefect would.

Shared by the compose-file check and the native cluster harness, so the harness starts
exactly the commands the compose file names. No prefect import here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
PREFECT_FILE = REPO / "prefect.yaml"
ENV_EXAMPLE = REPO / ".env.example"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}; $$ escapes a $.
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class ComposeError(Exception):
    """A compose value that cannot be interpolated (a required variable is unset)."""


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_prefect_file(path: Path = PREFECT_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def variables_used(text: str) -> set[str]:
    """The names of the ${VAR} interpolations in a compose file's text (comments aside)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return {m.group("name") for m in _VARIABLE.finditer("\n".join(lines).replace("$$", ""))}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's variable substitution, for the forms this project uses."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg")
        current = variables.get(name)
        unset = current is None or (current == "" and op is not None and op.startswith(":"))
        if op in (":-", "-"):
            return arg if unset else str(current)
        if op in (":?", "?"):
            if unset:
                raise ComposeError(f"${{{name}}} is required: {arg}")
            return str(current)
        return "" if current is None else str(current)

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=value lines of an .env file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def service_command(compose: dict[str, Any], service: str) -> list[str]:
    """A service's command as an argv list (the compose file uses the list form only)."""
    command = compose["services"][service]["command"]
    if not isinstance(command, list):
        raise ComposeError(f"service {service!r}: command must be a list, not a shell string")
    return [str(part) for part in command]


def service_environment(compose: dict[str, Any], service: str, variables: dict[str, str]) -> dict[str, str]:
    """A service's environment (the mapping form), interpolated with ``variables``."""
    environment = compose["services"][service].get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {str(k): interpolate(str(v), variables) for k, v in environment.items()}
