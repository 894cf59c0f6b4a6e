"""A local HTTP server standing in for a Slack incoming webhook.

It records every JSON payload posted to it and answers from a script: push
``(status, headers, body)`` tuples onto ``server.script``; when the script is empty it
answers ``200 ok`` like Slack does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class WebhookRecorder:
    payloads: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""


@contextmanager
def slack_webhook() -> Iterator[WebhookRecorder]:
    recorder = WebhookRecorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with recorder.lock:
                recorder.attempts += 1
                status, headers, text = recorder.script.pop(0) if recorder.script else (200, {}, "ok")
                if status == 200:
                    recorder.payloads.append(json.loads(body))
            data = text.encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret-token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
