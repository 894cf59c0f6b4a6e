"""Posting one message to a Slack incoming webhook."""

from __future__ import annotations

from typing import Any

import httpx

from tasks.notify.outcome import SendError, Sent
from tasks.retry_after import parse_retry_after

PERMANENT_STATUSES = {400, 401, 403, 404, 410}  # bad payload, revoked or unknown webhook
DEFAULT_RETRY_AFTER_SECONDS = 30.0
TIMEOUT = httpx.Timeout(15.0, connect=10.0)


def post_to_slack(
    webhook_url: str, payload: dict[str, Any], *, client: httpx.Client | None = None
) -> Sent:
    """POST the payload; raises :class:`SendError`. Errors never contain the webhook URL."""
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    try:
        response = http.post(webhook_url, json=payload)
    except httpx.TimeoutException:
        raise SendError("Slack webhook timed out", transient=True) from None
    except httpx.TransportError as exc:
        raise SendError(
            f"cannot reach the Slack webhook: {exc.__class__.__name__}", transient=True
        ) from None
    finally:
        if own:
            http.close()
    body = " ".join(response.text[:300].split())
    answer = f"HTTP {response.status_code} {body}".strip()
    if response.status_code == 200:
        return Sent(response=answer)
    if response.status_code == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        raise SendError(
            f"Slack rate limit: {answer}", transient=True, response=answer,
            retry_after=wait if wait is not None else DEFAULT_RETRY_AFTER_SECONDS,
        )
    if response.status_code >= 500:
        raise SendError(f"Slack server error: {answer}", transient=True, response=answer,
                        retry_after=parse_retry_after(response.headers.get("Retry-After")))
    transient = response.status_code not in PERMANENT_STATUSES and response.status_code in (408, 425)
    raise SendError(f"Slack refused the message: {answer}", transient=transient, response=answer)
