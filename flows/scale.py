"""Running on Prefect's engine: a sharded pass over N workers, and the one-time bootstrap.

``monitor-sharded`` starts one ``monitor`` run per online worker of the ``newswatch`` pool,
each with its shard of the feeds, and waits for them; the shards share article and
analysis work through database claims, so no article is processed twice.

Two process work pools keep the shards apart: ``newswatch`` holds the scaled-out workers,
each started with ``--limit 1`` so a worker takes one shard at a time and N shards land on
N workers; ``newswatch-control`` holds one worker for the scheduled flows that only
coordinate or send (``monitor-sharded``, ``deliver``), so a waiting ``monitor-sharded``
never takes a shard worker's slot. ``bootstrap`` creates both pools, the global
concurrency limits and the automations a self-hosted server needs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from tasks.prefect_tasks import ARTICLE_BATCH_LIMIT

WORK_POOL = "newswatch"  # the scaled workers that run monitor shards
CONTROL_POOL = "newswatch-control"  # one worker: monitor-sharded and deliver
MONITOR_DEPLOYMENT = "monitor/monitor"
DEFAULT_ARTICLE_BATCHES = 8  # cluster-wide article batches in flight (see fetch.cluster_article_batches)
FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


async def online_workers(pool: str) -> int:
    async with get_client() as client:
        workers = await client.read_workers_for_work_pool(work_pool_name=pool)
    return sum(1 for w in workers if str(getattr(w, "status", "")).upper().endswith("ONLINE"))


@flow(name="monitor-sharded", log_prints=False, validate_parameters=False)
def monitor_sharded(
    config_path: str | None = None,
    shards: int | None = None,
    pool: str = WORK_POOL,
    deployment: str = MONITOR_DEPLOYMENT,
    timeout_minutes: float = 60,
) -> dict[str, Any]:
    """One pass split over the pool's workers (``shards`` overrides the worker count)."""
    logger = get_run_logger()
    count = shards or asyncio.run(online_workers(pool)) or 1
    runs = [
        run_deployment(
            deployment,
            parameters={"config_path": config_path, "shard_index": i, "shard_count": count},
            timeout=0,  # start them all, then wait below
            as_subflow=False,
        )
        for i in range(count)
    ]
    logger.info("started %d monitor shards", count)
    states = asyncio.run(_wait_for(  # type: ignore[arg-type]  # flow run ids are UUIDs, typed loosely by the client
        [r.id for r in runs], timedelta(minutes=timeout_minutes)
    ))
    failed = [name for name, state in states.items() if state != "COMPLETED"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {count} shards did not complete: {failed}")
    return {"shards": count, "states": states}


async def _wait_for(run_ids: list[Any], timeout: timedelta) -> dict[str, str]:
    deadline = time.monotonic() + timeout.total_seconds()
    states: dict[str, str] = {}
    async with get_client() as client:
        while time.monotonic() < deadline:
            for run_id in run_ids:
                run = await client.read_flow_run(run_id)
                states[run.name] = run.state.type.value if run.state else "UNKNOWN"
            if all(s in FINAL_STATES for s in states.values()) and len(states) == len(run_ids):
                return states
            await asyncio.sleep(2)
    return states


async def bootstrap(
    pool: str = WORK_POOL,
    *,
    notify_slack_webhook: str | None = None,
    control_pool: str = CONTROL_POOL,
    article_batches: int = DEFAULT_ARTICLE_BATCHES,
) -> list[str]:
    """Create what a self-hosted deployment needs; safe to run again. Returns what it did."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    done: list[str] = []
    async with get_client() as client:
        for name in dict.fromkeys([pool, control_pool]):
            try:
                await client.create_work_pool(WorkPoolCreate(name=name, type="process"))
                done.append(f"created work pool {name!r} (process)")
            except ObjectAlreadyExists:
                done.append(f"work pool {name!r} already exists")
        existing = {limit.name for limit in await client.read_global_concurrency_limits(limit=200)}
        # How many article batches may run at once across all workers: the cluster's
        # total load on publishers' servers (taken when fetch.cluster_article_batches is set).
        if ARTICLE_BATCH_LIMIT in existing:
            done.append(f"concurrency limit {ARTICLE_BATCH_LIMIT!r} already exists")
        else:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=ARTICLE_BATCH_LIMIT, limit=article_batches)
            )
            done.append(f"created concurrency limit {ARTICLE_BATCH_LIMIT!r} = {article_batches}")
        automations = {a.name for a in await client.read_automations()}
        for automation in _automations(await _notification_block(notify_slack_webhook)):
            if automation.name in automations:
                done.append(f"automation {automation.name!r} already exists")
                continue
            await client.create_automation(automation)
            done.append(f"created automation {automation.name!r}")
    return done


async def _notification_block(webhook: str | None) -> Any:
    if not webhook:
        return None
    from prefect.blocks.notifications import SlackWebhook

    block = SlackWebhook(url=webhook)
    return await block.save("newswatch-run-failures", overwrite=True)


MISSED_HEARTBEATS = 3  # a run is a zombie after this many heartbeats in a row are missing


def zombie_after_seconds() -> int:
    """How long a running flow may go without a heartbeat before it is marked crashed.

    Three heartbeat periods, from PREFECT_FLOWS_HEARTBEAT_FREQUENCY (Prefect's default is
    180 s; docker-compose.yml sets 30 s on every newswatch process). A fixed window shorter
    than the period would crash healthy runs.
    """
    from prefect.settings import get_current_settings

    frequency = get_current_settings().flows.heartbeat_frequency or 180
    return MISSED_HEARTBEATS * int(frequency)


def _automations(block_id: Any) -> list[Any]:
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState, SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    flow_runs = ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]})
    zombie_after = zombie_after_seconds()
    automations = [
        # A worker that died mid-run leaves its run "Running" forever: mark it crashed.
        AutomationCore(
            name="newswatch: crash zombie flow runs",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={
                    "prefect.flow-run.heartbeat", "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed", "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed",
                },
                match=flow_runs,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=zombie_after),
            ),
            actions=[ChangeFlowRunState(state=StateType.CRASHED, message=f"no heartbeat for {zombie_after} s")],
        )
    ]
    if block_id is not None:
        automations.append(
            AutomationCore(
                name="newswatch: notify failed or crashed runs",
                trigger=EventTrigger(
                    expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
                    match=flow_runs,
                    posture=Posture.Reactive,
                    threshold=1,
                ),
                actions=[
                    SendNotification(
                        block_document_id=block_id,
                        subject="newswatch: {{ flow_run.name }} {{ flow_run.state.name }}",
                        body="Flow run {{ flow_run.name }} of {{ flow.name }} ended {{ flow_run.state.name }}: "
                        "{{ flow_run.state.message }}",
                    )
                ],
            )
        )
    return automations
