# newswatch: the CLI, the flows and a Prefect worker/server in one image.
#   docker build -t newswatch:local .
#   docker run --rm newswatch:local --help       (the entrypoint is `newswatch`)
# docker-compose.yml clears the entrypoint and names full commands (newswatch … / prefect …).
#
# Builds with BuildKit (Docker 23+ by default; DOCKER_BUILDKIT=1 on Docker 20.10).
# BASE_IMAGE: any Debian-like image with python3 and its venv module (3.11+), such as
#   the one scripts/base_image.sh builds from Debian's packages where no registry is
#   reachable: --build-arg BASE_IMAGE=newswatch-base:bookworm
# A package index other than PyPI, and the CA certificates it needs, are passed as build
# secrets, read only during the dependency install and never stored in a layer:
#   --secret id=pip_index_url,env=PIP_INDEX_URL --secret id=pip_cert,src=/path/to/ca.pem
# (scripts/build_image.sh passes this machine's pip settings that way).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PREFECT_HOME=/home/newswatch/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_UI_STATIC_DIRECTORY=/home/newswatch/.prefect/ui

# A user of our own: nothing runs as root. The Prefect server copies its UI into a folder
# it can write (PREFECT_UI_STATIC_DIRECTORY): site-packages belongs to root.
RUN groupadd --system newswatch \
    && useradd --system --gid newswatch --create-home --home-dir /home/newswatch newswatch

WORKDIR /app
# Dependencies first, in a layer of their own: only the lock file is copied before the
# install, so a code change reuses this layer. Every package is pinned with its hashes.
COPY requirements.lock ./
RUN --mount=type=secret,id=pip_index_url --mount=type=secret,id=pip_cert \
    set -eu; \
    if [ -s /run/secrets/pip_index_url ]; then PIP_INDEX_URL=$(cat /run/secrets/pip_index_url); export PIP_INDEX_URL; fi; \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi; \
    python3 -m venv "$VIRTUAL_ENV"; \
    pip install --quiet --require-hashes -r requirements.lock

# The project itself: no network, no dependency resolution (all installed above).
COPY pyproject.toml README.md ./
COPY config ./config
COPY storage ./storage
COPY tasks ./tasks
COPY flows ./flows
RUN pip install --quiet --no-index --no-deps --no-build-isolation . \
    && rm -rf build ./*.egg-info \
    && newswatch --help > /dev/null
# Deployments run from /app (prefect.yaml's pull step); docker/ holds the bootstrap script
# and the health check.
COPY prefect.yaml ./
COPY docker ./docker

USER newswatch
# Health checks in docker-compose.yml run docker/health.py (python's urllib), so no curl.
ENTRYPOINT ["newswatch"]
CMD ["--help"]
