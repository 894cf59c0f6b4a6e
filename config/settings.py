"""The configuration: one YAML file, overridable by NEWSWATCH_… environment variables.

Environment variables override the file, nested keys joined by ``__``
(``NEWSWATCH_FETCH__TIMEOUT_SECONDS=5``, ``NEWSWATCH_DATABASE_URL=…``). Relative paths in
the file (the SQLite database, topic files) resolve against the file's folder.
Invalid config raises :class:`ConfigError` with one message naming the key and the problem.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from config.database_url import normalize_database_url

ENV_PREFIX = "NEWSWATCH_"
DEFAULT_USER_AGENT = "newswatch/0.1 (+https://github.com/newswatch/newswatch; news monitor)"


class ConfigError(Exception):
    """A configuration problem, said in one line a user can act on."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedConfig(_Section):
    url: str
    name: str | None = None
    # The site's own page, when known (OPML's htmlUrl); only passed on by the OPML export.
    html_url: str | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        if any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("has a space or a control character in it; percent-encode it (%20)")
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        if not host:
            raise ValueError("names no host; write it in full, like https://www.example.org/rss.xml")
        return value


class FetchConfig(_Section):
    timeout_seconds: float = Field(20.0, gt=0)
    connect_timeout_seconds: float = Field(10.0, gt=0)
    max_bytes: int = Field(15 * 1024 * 1024, gt=0)
    max_redirects: int = Field(5, ge=0, le=20)
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay_seconds: float = Field(1.0, ge=0)
    # false, true, or a list of allowed "host:port" / CIDR entries.
    allow_private_networks: bool | list[str] = False
    user_agent: str = DEFAULT_USER_AGENT
    # Feeds: the normal interval between polls, and the cap for a failing feed's backoff.
    poll_interval_minutes: float = Field(15.0, gt=0)
    max_backoff_hours: float = Field(24.0, gt=0)
    # Articles: how many fetch+extract in flight at once, and transient retries.
    article_concurrency: int = Field(8, ge=1)
    article_max_attempts: int = Field(3, ge=1)
    extraction_workers: int | None = Field(None, ge=1)  # default: one per CPU core
    extraction_timeout_seconds: float = Field(30.0, gt=0)
    # trafilatura's fast mode: the same text on news pages (docs/performance.md) for ~25 %
    # less CPU per page; false runs its slower fallback extractors too.
    extraction_fast: bool = True
    # Analysis (stories, topics, alerts) in a child process of its own, so it runs beside
    # the downloads instead of taking turns with them for the main process's GIL.
    analysis_process: bool = True
    # On a Prefect cluster: take a slot of the global limit "newswatch-article-batches"
    # (created by `newswatch bootstrap --article-batches N`) for each article batch.
    cluster_article_batches: bool = False

    @field_validator("allow_private_networks")
    @classmethod
    def _entries(cls, value: bool | list[str]) -> bool | list[str]:
        if isinstance(value, list):
            from config.netrules import parse_network_rule

            for entry in value:
                parse_network_rule(entry)  # raises ValueError with the reason
        return value


class StoriesConfig(_Section):
    window_hours: float = Field(72.0, gt=0)
    # Near-duplicate (syndicated copy) threshold and story-join threshold; see docs/stories.md.
    duplicate_threshold: float = Field(0.7, gt=0, le=1)
    story_threshold: float = Field(0.35, gt=0, le=1)


class SmtpConfig(_Section):
    host: str = "localhost"
    port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field("newswatch <alerts@localhost>", alias="from")
    timeout_seconds: float = Field(30.0, gt=0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DigestConfig(_Section):
    every: Literal["hourly", "daily", "weekly"] = "daily"
    at: str = "08:00"
    timezone: str = "UTC"
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"

    @field_validator("at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        parts = value.split(":")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError("must be a time of day like 08:00")
        hour, minute = int(parts[0]), int(parts[1])
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError("must be a time of day like 08:00")
        return f"{hour:02d}:{minute:02d}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class SubscriberConfig(_Section):
    name: str = Field(min_length=1, max_length=200)
    topics: list[str] = Field(default_factory=list)  # empty: every topic
    email: list[str] = Field(default_factory=list)
    slack_webhook: SecretStr | None = None
    mode: Literal["immediate", "digest"] = "immediate"
    digest: DigestConfig = Field(default_factory=DigestConfig)
    min_score: float = 0.0
    # One message when a feed has failed for delivery.feed_down_after_hours, one when it is back.
    feed_health: bool = False

    @field_validator("email", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("slack_webhook")
    @classmethod
    def _webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        url = value.get_secret_value().strip() if value is not None else ""
        if value is not None and not (url.lower().startswith(("https://", "http://")) and urlsplit(url).hostname):
            # Never repeat the value: a webhook URL is a secret.
            raise ValueError("must be the webhook's full https:// URL (from Slack's Incoming Webhooks)")
        return value

    @field_validator("email")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c in address for c in "\r\n<>,; "):
                raise ValueError(f"{address!r} is not an email address")
        return value


class DeliveryConfig(_Section):
    # Debounce for story updates to immediate subscribers.
    update_debounce_hours: float = Field(6.0, ge=0)
    # The first pass after a feed, topic or subscriber is added sends nothing for what it finds.
    baseline_on_first_run: bool = True
    max_attempts: int = Field(5, ge=1)
    retry_base_seconds: float = Field(60.0, ge=0)
    # A feed failing continuously this long is "down": feed_health subscribers are told once.
    feed_down_after_hours: float = Field(24.0, gt=0)


class ScheduleConfig(_Section):
    monitor_every_minutes: float = Field(15.0, gt=0)
    deliver_every_minutes: float = Field(5.0, gt=0)
    monitor_cron: str | None = None
    deliver_cron: str | None = None

    @field_validator("monitor_cron", "deliver_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not _CRON.fullmatch(value.strip()):
            raise ValueError(
                f"{value!r} is not a cron expression; use five fields, like '*/15 * * * *' "
                "(minute hour day month weekday), or @hourly, @daily, @weekly"
            )
        return value.strip() if value is not None else None
    # `newswatch serve` starts a local Prefect server (and its UI) here unless
    # PREFECT_API_URL names one already.
    server_host: str = "127.0.0.1"
    server_port: int = Field(4200, gt=0, lt=65536)
    # Without a server to use, `newswatch run` starts Prefect's API server itself (≈ 5 CPU s)
    # and keeps it this long after its last request, so the next run starts at once;
    # 0 stops it at the end of each run.
    keep_server_minutes: float = Field(30.0, ge=0)


_CRON_FIELD = r"[0-9A-Za-z*?LW#/,-]+"
_CRON = re.compile(rf"@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)|{_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4}}")


class RetentionConfig(_Section):
    keep_articles_days: float | None = Field(None, gt=0)  # None keeps everything


# What `newswatch web add-user` writes: scrypt$N$r$p$salt$hash (salt and hash in base64).
PASSWORD_HASH = re.compile(r"scrypt\$\d{1,8}\$\d{1,3}\$\d{1,3}\$[A-Za-z0-9+/=]{8,200}\$[A-Za-z0-9+/=]{16,200}")


class WebConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, gt=0, lt=65536)
    username: str | None = None
    password: SecretStr | None = None
    # Where readers reach the app (https://news.example.org/newswatch): every absolute link
    # (Atom, email, Slack, the API's Link header) is built from it, never from a request's
    # Host header. Unset: pages and feeds use relative links; messages carry no story link.
    base_url: str | None = None
    # Behind a reverse proxy without base_url: build links from X-Forwarded-Proto and
    # X-Forwarded-Host. Only when every request comes through a proxy that sets them.
    trust_proxy_headers: bool = False
    # People who may record verdicts on the story page: name -> password hash, made by
    # `newswatch web add-user NAME`. Empty: the app is read-only (no sign-in, no writes).
    users: dict[str, str] = Field(default_factory=dict)
    # Signs the session cookie and its CSRF tokens. Required when users are configured:
    # the app refuses to start without it rather than sign with something guessable.
    secret_key: SecretStr | None = None

    @field_validator("users")
    @classmethod
    def _password_hashes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, hashed in value.items():
            if not name.strip() or len(name) > 200 or name != " ".join(name.split()):
                raise ValueError(f"user name {name!r}: give 1 to 200 characters without leading, trailing or double spaces")
            if not isinstance(hashed, str) or not PASSWORD_HASH.fullmatch(hashed):
                raise ValueError(
                    f"{name}: not a password hash; make one with `newswatch web add-user {name}` and paste it here"
                )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters; `newswatch web add-user` prints a fresh one")
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from urllib.parse import urlsplit

        text = value.strip()
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"{text!r} is not a URL; use https://host[:port][/path]") from None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{text!r} must be an absolute http:// or https:// URL")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError(f"{text!r} must not carry a query, fragment or credentials")
        if any(c.isspace() or ord(c) < 0x20 for c in text):
            raise ValueError(f"{text!r} must not contain spaces or control characters")
        return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}"


class Settings(BaseSettings):
    """Everything a pass needs. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
    )

    database_url: str = "sqlite:///newswatch.db"
    feeds: list[FeedConfig] = Field(default_factory=list)
    # OPML files (relative to the config file) whose feeds are added to ``feeds``.
    feed_lists: list[str] = Field(default_factory=list)
    topics: str | list[Any] | None = None
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    stories: StoriesConfig = Field(default_factory=StoriesConfig)
    smtp: SmtpConfig | None = None
    subscribers: list[SubscriberConfig] = Field(default_factory=list)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    # The folder relative paths resolve against (the config file's folder).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("topics", mode="before")
    @classmethod
    def _topics_shape(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | list):
            raise ValueError(
                "must be a path (a topic YAML file or a folder of them, relative to the config file) "
                "or a list of topic definitions"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty; name a topic file or folder, or leave topics: out for the shipped topics")
        return value

    @model_validator(mode="after")
    def _add_feed_lists(self) -> Settings:
        from config.opml import OpmlError, read_feed_list

        known = {feed.url for feed in self.feeds}
        for entry in self.feed_lists:
            path = Path(entry).expanduser()
            try:
                listed = read_feed_list(path if path.is_absolute() else self.base_dir / path)
            except OpmlError as exc:
                raise ValueError(f"feed_lists: {exc}") from None
            for item in listed:
                try:
                    feed = FeedConfig(url=item.url, name=item.name, html_url=item.html_url)
                except ValidationError as exc:
                    problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(
                        f"feed_lists: {entry}: feed {item.url!r} {problem}; fix or remove that outline"
                    ) from None
                if feed.url not in known:
                    known.add(feed.url)
                    self.feeds.append(feed)
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        names = [s.name for s in self.subscribers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"subscriber names must be unique; repeated: {', '.join(duplicates)}")
        urls = [f.url for f in self.feeds]
        repeated = sorted({u for u in urls if urls.count(u) > 1})
        if repeated:
            raise ValueError(f"feed listed twice: {repeated[0]}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the file's values, which arrive as init kwargs.
        return (env_settings, init_settings)

    # Derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        """The database URL with a relative SQLite path resolved against the config file."""
        return resolve_sqlite_path(self.database_url, self.base_dir)


def resolve_sqlite_path(url: str, base_dir: Path) -> str:
    prefix, sep, rest = url.partition(":///")
    if not prefix.startswith("sqlite") or not sep or rest in ("", ":memory:"):
        return url
    path = Path(rest.split("?", 1)[0]).expanduser()
    query = rest[len(rest.split("?", 1)[0]):]
    if path.is_absolute():
        return url
    return f"{prefix}:///{(base_dir / path).resolve()}{query}"


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _describe(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    loc = tuple(x for x in first["loc"] if not str(x).startswith(("function-", "union[")))
    key = _location(loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "is not a known setting" + _suggestion(str(loc[-1]), _keys_at(loc[:-1]))
    extra = f" (and {len(error.errors()) - 1} more problem(s))" if len(error.errors()) > 1 else ""
    env_name = _overriding_variable([str(x) for x in loc if not isinstance(x, int)])
    if env_name:
        source = f"{source} (overridden by {env_name})" if source != "configuration" else env_name
    if not loc:  # a check across keys: its message names them
        return f"{source}: {message}{extra}"
    return f"{source}: {key}: {message}{extra}"


def _overriding_variable(keys: list[str]) -> str | None:
    """The NEWSWATCH_… variable that set ``keys`` (or the section or list holding them)."""
    present = {name.upper(): name for name in os.environ}
    for size in range(len(keys), 0, -1):
        candidate = ENV_PREFIX + "__".join(keys[:size]).upper()
        if candidate in present:
            return present[candidate]
    return None


def _section_model(annotation: Any) -> type[BaseModel] | None:
    """The settings section a field holds (through Optional and list), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _section_model(arg)
        if found is not None:
            return found
    return None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items() if name != "base_dir"]


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The setting names valid at ``loc`` (``("fetch",)`` → the fetch section's keys)."""
    model: type[BaseModel] | None = Settings
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = next((f for n, f in model.model_fields.items() if part in (n, f.alias)), None)
        model = _section_model(field.annotation) if field is not None else None
    return _keys_of(model) if model is not None else []


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (known: {', '.join(choices)})" if choices else ""


# NEWSWATCH_ variables that are not settings: read by the CLI, the tests and docker compose.
NOT_SETTINGS = frozenset({"CONFIG", "CONFIG_DIR", "TEST_POSTGRES_URL", "NOTIFY_SLACK_WEBHOOK", "KEEP_ARTICLES_DAYS"})


def check_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Refuse a NEWSWATCH_ variable that was meant as a setting but names none.

    pydantic-settings ignores an unknown name, so ``NEWSWATCH_DATABASE_ULR`` would silently
    leave the database on its default. A name with ``__`` (a nested key) or one close to a
    setting is an error; anything else may be a user's own variable (``${NAME}`` in the file).
    """
    top_keys = _keys_of(Settings)
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX) or name.upper()[len(ENV_PREFIX):] in NOT_SETTINGS:
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        top = parts[0]
        if top not in top_keys:
            close = difflib.get_close_matches(top, top_keys, n=1, cutoff=0.75)
            if close or len(parts) > 1:
                hint = f"did you mean {ENV_PREFIX}{close[0].upper()}?" if close else f"known: {', '.join(top_keys)}"
                raise ConfigError(f"{name}: {top} is not a setting ({hint})")
            continue
        if len(parts) == 1:
            continue
        field = Settings.model_fields[top]
        section = _section_model(field.annotation)
        if section is None or get_origin(field.annotation) is list:
            raise ConfigError(
                f"{name}: {top} cannot be set key by key; set {ENV_PREFIX}{top.upper()} to a JSON value "
                "or put it in the config file"
            )
        keys = _keys_of(section)
        if parts[1] not in keys or len(parts) > 2:
            close = difflib.get_close_matches(parts[1], keys, n=1, cutoff=0.6)
            hint = f"did you mean {ENV_PREFIX}{top.upper()}__{close[0].upper()}?" if close else f"{top} has: {', '.join(keys)}"
            raise ConfigError(f"{name}: {'.'.join(parts)} is not a setting ({hint})")


def _environment_json_error(exc: SettingsError) -> str:
    """pydantic-settings' complaint about a non-JSON list or section, said for a person."""
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match.group(1) if match else "?"
    name = _overriding_variable([field]) or f"{ENV_PREFIX}{field.upper()}"
    if field in ("feeds", "subscribers"):
        example = f"""{name}='[{{"url": "https://…"}}]'""" if field == "feeds" else f"""{name}='[{{"name": "desk", "email": ["desk@example.org"]}}]'"""
    else:
        section = _section_model(Settings.model_fields[field].annotation) if field in Settings.model_fields else None
        key = _keys_of(section)[0] if section is not None else "key"
        example = f"""{name}='{{"{key}": …}}', or {name}__{key.upper()}=… for one key"""
    return f"{name}: not valid JSON; a list or a section set in the environment is JSON (e.g. {example})"


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env_references(value: Any, where: str = "") -> Any:
    """Replace ``${NAME}`` in string values with the environment variable NAME.

    Secrets (SMTP passwords, Slack webhook URLs) can so stay out of the file. A reference
    to a variable that is not set is a config error naming the key.
    """
    if isinstance(value, dict):
        return {k: expand_env_references(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env_references(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: refers to ${{{name}}}, which is not set in the environment")
            return os.environ[name]

        return _ENV_REFERENCE.sub(replace, value)
    return value


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file at ``path`` and the environment into :class:`Settings`.

    Without ``path``, the file named by ``NEWSWATCH_CONFIG`` is read, if set (workers and
    deployments find their config that way).
    """
    if path is None and os.environ.get("NEWSWATCH_CONFIG"):
        path = os.environ["NEWSWATCH_CONFIG"]
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    source = "configuration"
    if path is not None:
        file = Path(path).expanduser()
        source = str(file)
        try:
            raw = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such config file") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from None
        try:
            loaded = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{file}: not valid YAML{where}: {problem}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: the top level must be a mapping of settings")
        try:
            data = expand_env_references(loaded)
        except ConfigError as exc:
            raise ConfigError(f"{file}: {exc}") from None
        base_dir = file.resolve().parent
    data.update(overrides)
    data.setdefault("base_dir", base_dir)
    check_environment()
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    except SettingsError as exc:
        raise ConfigError(_environment_json_error(exc)) from None
