"""``newswatch serve``: one long-lived process that runs the flows on their schedules.

A slow run never stacks (one at a time per flow; a run due while one runs is cancelled),
a restart does not pause the schedules, and Ctrl-C stops cleanly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from config.settings import Settings
from flows.deliver import deliver
from flows.monitor import monitor

ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def _timing(every_minutes: float, cron: str | None) -> dict[str, Any]:
    return {"cron": cron} if cron else {"interval": timedelta(minutes=every_minutes)}


def deployments(settings: Settings, config_path: str) -> list[Any]:
    """The deployments ``serve`` runs, with the schedules from the config's ``schedule``."""
    schedule = settings.schedule
    parameters = {"config_path": config_path}
    return [
        monitor.to_deployment(
            name="monitor", parameters=parameters, concurrency_limit=ONE_AT_A_TIME,
            description="One monitoring pass over the configured feeds.",
            **_timing(schedule.monitor_every_minutes, schedule.monitor_cron),
        ),
        deliver.to_deployment(
            name="deliver", parameters=parameters, concurrency_limit=ONE_AT_A_TIME,
            description="Send pending alerts, updates and the digests that are due.",
            **_timing(schedule.deliver_every_minutes, schedule.deliver_cron),
        ),
    ]


def serve_forever(settings: Settings, config_path: str) -> None:
    # pause_on_shutdown=False: otherwise every restart leaves the schedules paused.
    serve(*deployments(settings, config_path), pause_on_shutdown=False)
