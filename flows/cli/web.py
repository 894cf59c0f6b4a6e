"""``newswatch web``: serve the web app (alerts, stories, topics, feeds, Atom, JSON), and
``newswatch web add-user`` to make the password hash of a person who may record verdicts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from flows.cli.common import ConfigOption, command_group, fail, open_database_or_fail, settings_from

HostOption = Annotated[str | None, typer.Option(help="Address to listen on (default: web.host, 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="Port (default: web.port, 8080).")]

app = command_group(
    "The web app: serve it, or add a person who may sign in.",
    invoke_without_command=True, no_args_is_help=False,
)


def web_command(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Serve the web app: alerts, stories, topics, feeds, Atom feeds and a JSON API.

    Read-only unless people are configured (web.users, made with `newswatch web add-user`):
    then they can sign in and mark alerts relevant or not relevant."""
    from flows.web.accounts import Accounts, SignInSetupError
    from flows.web.server import (
        ServeError,
        check_port_free,
        exposure_warning,
        listen_address,
        serve,
    )
    from storage.db import DatabaseNotReady

    settings = settings_from(config, "web")
    try:
        secret = settings.web.secret_key
        Accounts(settings.web.users, secret.get_secret_value() if secret else None)  # before anything starts
        listen = listen_address(settings, host, port)
        check_port_free(listen)
        open_database_or_fail(settings, read_only=True).dispose()  # a typo'd path is never created
        warning = exposure_warning(settings, listen)
        if warning:
            typer.echo(f"newswatch: warning: {warning}", err=True)
        serve(settings, listen, announce=lambda url: typer.echo(
            f"newswatch web: serving on {url} (Ctrl-C to stop)", err=True
        ))
    except (ServeError, DatabaseNotReady, SignInSetupError) as exc:
        fail(str(exc))


@app.command("add-user")
def add_user_command(
    name: Annotated[str, typer.Argument(help="The person's name, shown with their verdicts.")],
    config: ConfigOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (no prompt).")
    ] = False,
) -> None:
    """Make a password hash for NAME and print the web.users entry to paste into the config.

    The hash is scrypt with a random salt; the password itself is stored nowhere."""
    import secrets

    from flows.web.accounts import MIN_PASSWORD_CHARS, hash_password

    clean = " ".join(name.split())
    if not clean or clean != name or len(name) > 200:
        fail(f"name {name!r}: give 1 to 200 characters without leading, trailing or double spaces")
    settings = settings_from(config) if config is not None else None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():  # the prompt needs a terminal; without one it only says "Aborted!"
            fail(f"no terminal to ask for the password: give it on stdin with"
                 f" `newswatch web add-user {name} --password-stdin`")
        password = typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD_CHARS:
        fail(f"the password is too short: give at least {MIN_PASSWORD_CHARS} characters")
    hashed = hash_password(password)
    existing = settings.web.users if settings is not None else {}
    verb = "replace" if name in existing else "add"
    typer.echo(f"# {verb} under web: users: in {config or 'the config'}")
    typer.echo("web:")
    typer.echo("  users:")
    typer.echo(f"    {_yaml_key(name)}: {hashed}")
    if settings is None or settings.web.secret_key is None:
        typer.echo("  # signing in also needs a secret key for the session cookie, e.g. this fresh one:")
        typer.echo(f"  secret_key: {secrets.token_urlsafe(32)}")


def _yaml_key(name: str) -> str:
    import json

    import yaml

    plain = yaml.safe_load(f"{name}: x") if name.replace(" ", "").replace("-", "").replace("_", "").isalnum() else None
    return name if isinstance(plain, dict) and name in plain else json.dumps(name, ensure_ascii=False)


@app.callback()
def web_group(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Serve the web app: alerts, stories, topics, feeds, Atom feeds and a JSON API.

    Read-only unless people are configured (web.users, made with `newswatch web add-user`):
    then they can sign in and mark alerts relevant or not relevant."""
    if ctx.invoked_subcommand is None:
        web_command(config=config, host=host, port=port)


def standalone() -> None:
    """``python -m flows.web``: the web command on its own."""
    typer.run(web_command)
