"""The limits of one pass's fetches: :class:`FetchPolicy`, whose defaults are the config's."""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import FetchConfig

# The one source of the fetch defaults is the config (config/settings.py).
_DEFAULTS = FetchConfig()


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one pass. Build from the config with :meth:`from_settings`; the defaults
    are the config's."""

    # Read timeout per chunk AND the overall deadline for a whole fetch (all redirect hops).
    timeout_seconds: float = _DEFAULTS.timeout_seconds
    connect_timeout_seconds: float = _DEFAULTS.connect_timeout_seconds
    # Cap on raw and decoded body bytes.
    max_bytes: int = _DEFAULTS.max_bytes
    max_redirects: int = _DEFAULTS.max_redirects
    per_host_concurrency: int = _DEFAULTS.per_host_concurrency
    # Minimum gap between request starts to the same host.
    per_host_delay_seconds: float = _DEFAULTS.per_host_delay_seconds
    # True, False, or entries like "127.0.0.1:8080", "localhost", "10.0.0.0/8".
    allow_private_networks: bool | list[str] = _DEFAULTS.allow_private_networks
    user_agent: str = _DEFAULTS.user_agent

    @classmethod
    def from_settings(cls, fetch: FetchConfig) -> FetchPolicy:
        allow = fetch.allow_private_networks
        return cls(
            timeout_seconds=fetch.timeout_seconds,
            connect_timeout_seconds=fetch.connect_timeout_seconds,
            max_bytes=fetch.max_bytes,
            max_redirects=fetch.max_redirects,
            per_host_concurrency=fetch.per_host_concurrency,
            per_host_delay_seconds=fetch.per_host_delay_seconds,
            allow_private_networks=list(allow) if isinstance(allow, list) else bool(allow),
            user_agent=fetch.user_agent,
        )
