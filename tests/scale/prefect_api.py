"""A Prefect server's REST API, as the cluster tests use it (httpx; no prefect import).

Shared by the native cluster (tests/scale/cluster.py) and the Docker compose stack
(tests/docker/stack.py): start a deployment's run, wait for it, list runs and workers.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import httpx

FINAL_STATES = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
WORK_POOL = "newswatch"  # as in flows/scale.py (not imported: that would import prefect)
CONTROL_POOL = "newswatch-control"
SHARDED = "monitor-sharded/monitor-sharded"
MONITOR = "monitor/monitor"


class ClusterError(Exception):
    """A cluster process failed to start or a run did not finish; the message names the log."""


class PrefectApi:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self._http = httpx.Client(base_url=api_url, timeout=30)

    def close(self) -> None:
        self._http.close()

    def healthy(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return self._http.get("/health", timeout=2).status_code == 200
        return False

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = self._http.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def online_workers(self, pool: str = WORK_POOL) -> list[str]:
        workers = self._post(f"/work_pools/{pool}/workers/filter", {})
        return [w["name"] for w in workers if w.get("status") == "ONLINE"]

    def deployment_id(self, name: str) -> str:
        response = self._http.get(f"/deployments/name/{name}")
        response.raise_for_status()
        return str(response.json()["id"])

    def start_run(self, deployment: str, parameters: dict[str, Any]) -> str:
        run = self._post(
            f"/deployments/{self.deployment_id(deployment)}/create_flow_run", {"parameters": parameters}
        )
        return str(run["id"])

    def flow_run(self, run_id: str) -> dict[str, Any]:
        response = self._http.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return dict(response.json())

    def wait(self, run_id: str, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.flow_run(run_id)
            if run["state_type"] in FINAL_STATES:
                return run
            time.sleep(0.5)
        raise ClusterError(f"flow run {run_id} not finished after {timeout:.0f} s: {run['state_type']}")

    def runs_of(self, deployment: str) -> list[dict[str, Any]]:
        body = {"deployments": {"id": {"any_": [self.deployment_id(deployment)]}}, "sort": "EXPECTED_START_TIME_ASC"}
        return list(self._post("/flow_runs/filter", body))

    def sharded_pass(self, shards: int, timeout: float = 240) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Trigger monitor-sharded and wait; returns its run and the monitor runs it started."""
        before = {run["id"] for run in self.runs_of(MONITOR)}
        run = self.wait(self.start_run(SHARDED, {"shards": shards}), timeout=timeout)
        started = [r for r in self.runs_of(MONITOR) if r["id"] not in before]
        return run, started
