"""flows/scale.py's pure parts: the automations bootstrap creates."""

from __future__ import annotations

from datetime import timedelta

from tests.scale.compose import load_compose, read_env_file, service_environment


def zombie_trigger_window(frequency: int | None) -> timedelta:
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows import scale

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: frequency}):
        automations = scale._automations(None)
    zombie = next(a for a in automations if "zombie" in a.name)
    return zombie.trigger.within


def test_a_run_is_a_zombie_after_three_missed_heartbeats() -> None:
    assert zombie_trigger_window(30) == timedelta(seconds=90)
    # Prefect's default period is 180 s: a fixed 90 s window would crash healthy runs.
    assert zombie_trigger_window(180) == timedelta(seconds=540)


def test_bootstrap_and_workers_agree_on_the_heartbeat() -> None:
    compose, variables = load_compose(), read_env_file()
    periods = {
        service: service_environment(compose, service, variables).get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY")
        for service in ("bootstrap", "worker", "control-worker")
    }
    assert set(periods.values()) == {"30"}, periods


def test_without_a_webhook_there_is_no_notification_automation() -> None:
    from flows import scale

    names = [a.name for a in scale._automations(None)]
    assert names == ["newswatch: crash zombie flow runs"]


def test_with_a_webhook_failed_and_crashed_runs_are_notified() -> None:
    import uuid

    from flows import scale

    block_id = uuid.uuid4()
    notify = next(a for a in scale._automations(block_id) if "notify" in a.name)
    assert notify.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert notify.actions[0].block_document_id == block_id
