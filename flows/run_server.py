"""The child process that serves Prefect's API for one ``newswatch run`` (flows/prefect_api.py).

It runs the same application as Prefect's own ephemeral server (``create_app`` with the
ephemeral services) on a socket its parent bound, so the address is known before the
server has even started importing. Two things differ from Prefect's ephemeral server:
the parent stops it only after every task run is recorded, and it stops by itself
(gracefully, as on SIGTERM) when its parent goes away, so a killed run never leaves an
orphaned server behind.

    python -m flows.run_server FD
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading


def _stop_when_parent_exits() -> None:
    # The parent holds the write end of our stdin and never writes: EOF means it is gone.
    with contextlib.suppress(OSError, ValueError):
        sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


def main(argv: list[str]) -> None:
    listening = socket.socket(fileno=int(argv[0]))
    threading.Thread(target=_stop_when_parent_exits, name="parent-lifeline", daemon=True).start()
    import uvicorn

    config = uvicorn.Config(
        "prefect.server.api.server:create_app", factory=True, lifespan="on", log_level="error",
    )
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main(sys.argv[1:])
