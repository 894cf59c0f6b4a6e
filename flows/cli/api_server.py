"""``newswatch api-server status|stop``: the Prefect API server a run started and kept.

Without a Prefect server to use, ``newswatch run`` starts one and keeps it for
``schedule.keep_server_minutes`` after its last request (flows/prefect_api.py). These
commands show it and stop it; it lives per ``PREFECT_HOME``.
"""

from __future__ import annotations

from flows.cli.common import (
    TextFormatOption,
    TextOrJson,
    command_group,
    print_json,
    quiet_prefect_environment,
)

app = command_group("The Prefect API server `newswatch run` keeps between runs.")


@app.command("status")
def status(output: TextFormatOption = TextOrJson.text) -> None:
    """Whether a kept Prefect API server is running for this PREFECT_HOME, and where."""
    from flows.prefect_api import kept_server_status, prefect_home

    quiet_prefect_environment()  # what a run sets before it picks a server: the same settings
    state = kept_server_status()
    home = str(prefect_home())
    if output is TextOrJson.json:
        print_json({"running": state is not None, "prefect_home": home, **(state or {})})
        return
    if state is None:
        print(f"No kept Prefect API server for PREFECT_HOME={home}; the next `newswatch run` starts one.")
        return
    print(
        f"Kept Prefect API server: {state['api_url']} (pid {state['pid']}, started {state['started_at']}, "
        f"stops after {float(state['keep_seconds']) / 60:g} min without requests)"
        + ("" if state["answers"] else "; not answering yet (starting)")
        + ("" if state["matches_settings"] else "; started with other PREFECT_ settings, so runs now start their own")
    )


@app.command("stop")
def stop() -> None:
    """Stop the kept Prefect API server now (the next run starts a new one)."""
    from flows.prefect_api import prefect_home, stop_kept_server

    state = stop_kept_server()
    if state is None:
        print(f"No kept Prefect API server to stop for PREFECT_HOME={prefect_home()}.")
    else:
        print(f"Stopped the kept Prefect API server {state['api_url']} (pid {state['pid']}).")
