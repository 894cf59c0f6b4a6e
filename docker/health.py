"""Compose health checks: GET a path on this container's own port, named by a variable.

    python docker/health.py PORT_VARIABLE PATH [--any-answer]

The port comes from the container's environment (e.g. PREFECT_SERVER_API_PORT), so the
check follows the service wherever an override moves it. Healthy on a 2xx answer, or on
any HTTP answer with --any-answer (a page behind basic authentication answers 401).
Standard library only: the image needs no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--any-answer"]
    if len(args) != 2:
        print("usage: health.py PORT_VARIABLE PATH [--any-answer]", file=sys.stderr)
        return 2
    variable, path = args
    port = os.environ.get(variable)
    if not port:
        print(f"health: {variable} is not set", file=sys.stderr)
        return 2
    url = f"http://127.0.0.1:{port}/{path.lstrip('/')}"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return 0
    except urllib.error.HTTPError as exc:
        if "--any-answer" in argv:
            return 0
        print(f"health: {url} answered {exc.code}", file=sys.stderr)
    except OSError as exc:
        print(f"health: {url}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
