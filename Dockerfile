# newswatch: the CLI, the flows and a Prefect worker/server in one image.
#   docker build -t newswatch:local .
#   docker run --rm newswatch:local --help       (the entrypoint is `newswatch`)
# docker-compose.yml clears the entrypoint and names full commands (newswatch … / prefect …).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFECT_HOME=/home/newswatch/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

# A user of our own: nothing runs as root.
RUN groupadd --system newswatch \
    && useradd --system --gid newswatch --create-home --home-dir /home/newswatch newswatch

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY config ./config
COPY storage ./storage
COPY tasks ./tasks
COPY flows ./flows
RUN pip install . && newswatch --help > /dev/null
# Deployments run from /app (prefect.yaml's pull step); docker/ holds the bootstrap script.
COPY prefect.yaml ./
COPY docker ./docker

USER newswatch
# Health checks in docker-compose.yml call python's urllib, so no curl is needed here.
ENTRYPOINT ["newswatch"]
CMD ["--help"]
