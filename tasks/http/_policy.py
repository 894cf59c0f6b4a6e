"""The limits of one pass's fetches: :class:`FetchPolicy`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import FetchConfig


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one pass. Build from the config with :meth:`from_settings`."""

    # Read timeout per chunk AND the overall deadline for a whole fetch (all redirect hops).
    timeout_seconds: float = 20.0
    connect_timeout_seconds: float = 10.0
    # Cap on raw and decoded body bytes.
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    per_host_concurrency: int = 2
    # Minimum gap between request starts to the same host.
    per_host_delay_seconds: float = 1.0
    # True, False, or entries like "127.0.0.1:8080", "localhost", "10.0.0.0/8".
    allow_private_networks: bool | list[str] = False
    user_agent: str = "newswatch/0.1"

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
