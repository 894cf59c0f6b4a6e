"""The outcome vocabulary of one send: what happened and whether trying again can help."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class SendError(Exception):
    """A send that did not go through.

    ``transient`` failures (SMTP 4xx, connection errors, timeouts, Slack 429/5xx) are
    retried later; the others are recorded as failed. The message never holds a secret.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        response: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.response = response
        self.retry_after = retry_after


@dataclass(frozen=True)
class Sent:
    """What the provider answered when it accepted the message, and when (perf_counter):
    from that instant until ``sent`` is committed, a crash means a duplicate."""

    response: str
    accepted_at: float = field(default_factory=time.perf_counter)
