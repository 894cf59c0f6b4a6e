"""What happened to one fetch: :class:`FetchResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storage.outcome import Outcome

if TYPE_CHECKING:
    from tasks.http._classify import Verdict


@dataclass
class FetchResult:
    """What happened to one fetch, in words for a person and fields for the code."""

    url: str  # as requested
    final_url: str  # the last URL requested (or refused) after redirects
    outcome: Outcome
    status: str  # "ok", "HTTP 404", "timeout", "refused: private address 10.0.0.1", …
    http_status: int | None = None
    body: bytes | None = None  # only for ok
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    content_type: str | None = None  # media type only, lower-cased
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after_seconds: float | None = None
    elapsed_ms: int = 0  # wall time of the whole fetch, politeness waits included
    redirects: list[str] = field(default_factory=list)  # the URLs redirected to, in order
    soft_failure: bool = False  # a failure that counts half in feed backoff (storage/outcome.py)
    remote_address: str | None = None  # the checked IP address the last response came from

    @property
    def is_failure(self) -> bool:
        return self.outcome.is_failure

    @property
    def failure_weight(self) -> float:
        """0 for ok / not modified, 0.5 for a soft failure, 1.0 for a hard one."""
        return self.outcome.failure_weight(self.soft_failure)

    def settle(self, verdict: Verdict) -> None:
        self.outcome, self.status, self.soft_failure = verdict

    def forget_response(self) -> None:
        """Before a hop: a failed hop must not report the previous hop's response."""
        self.http_status = self.content_type = self.charset = None
        self.etag = self.last_modified = self.remote_address = None
        self.retry_after_seconds = None
        self.headers = {}
