"""The ``deliver`` flow: send what is due (immediate alerts, updates, digests).

Wiring only: one thin task around :func:`tasks.notify.deliver_pending`, which claims rows
with leases, so overlapping runs or several workers never send a row twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from config.settings import Settings, load_settings
from tasks.notify import deliver_pending


@task(name="deliver-pending", cache_policy=NO_CACHE)
def deliver_pending_task(settings: Settings, limit: int | None = None) -> dict[str, Any]:
    summary = deliver_pending(settings, limit=limit)
    return summary.as_dict()


@flow(name="deliver", log_prints=False, validate_parameters=False)
def deliver(config_path: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Send the pending deliveries and the digests that are due."""
    settings = load_settings(config_path)
    return deliver_pending_task(quote(settings), limit)  # quote(): see flows/monitor.py
