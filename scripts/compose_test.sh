#!/usr/bin/env bash
# `make compose-test`: build the images, run the compose stack in Docker, check it, tear
# it down. Exits non-zero on any failure (2: something it needs is missing).
#
# 1. The base image: BASE_IMAGE if set (python:3.11-slim where a registry is reachable),
#    else one built from Debian's packages by scripts/base_image.sh (kept once built).
# 2. newswatch:local from the Dockerfile (scripts/build_image.sh; cached layers reused).
# 3. tests/docker/test_compose_stack.py: the stack from docker-compose.yml plus
#    tests/docker/compose.host.yml, a sharded pass and deliveries, then `down`.
# Needs: a Docker engine, docker-compose, debootstrap (for 1), root, and PostgreSQL named by
# NEWSWATCH_TEST_POSTGRES_URL (as the test suite does).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

fail() { echo "compose-test: $1" >&2; exit 2; }
command -v "${DOCKER_COMPOSE:-docker-compose}" > /dev/null || fail "docker-compose not found (apt-get install docker-compose)"
docker info > /dev/null 2>&1 || fail "no Docker engine answers (start dockerd; see docs/scale-out.md)"
[ -n "${NEWSWATCH_TEST_POSTGRES_URL:-}" ] || fail "set NEWSWATCH_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres)"
[ -x "$PYTHON" ] || fail "$PYTHON not found (make install)"

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/newswatch-compose-test.XXXXXX")
# The test's compose project. Whatever ends this script (a failure, Ctrl-C, the test
# process killed), no container or volume of the project outlives it.
export NEWSWATCH_TEST_COMPOSE_PROJECT="newswatch-test-$(date +%s)-$$"
remove_leftovers() {
  local label="label=com.docker.compose.project=$NEWSWATCH_TEST_COMPOSE_PROJECT" ids
  ids=$(docker ps --all --quiet --filter "$label")
  if [ -n "$ids" ]; then echo "compose-test: removing containers left behind" >&2; docker rm --force --volumes $ids > /dev/null; fi
  ids=$(docker volume ls --quiet --filter "$label")
  if [ -n "$ids" ]; then docker volume rm $ids > /dev/null; fi
}
trap remove_leftovers EXIT
trap 'exit 130' INT TERM
seconds() { echo $(( $(date +%s) - $1 )); }
started=$(date +%s)

step=$(date +%s)
if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE=$(scripts/base_image.sh 2> "$LOGS/base.log") || { cat "$LOGS/base.log" >&2; exit 1; }
fi
cat "$LOGS/base.log" 2> /dev/null || true
base_seconds=$(seconds "$step")

step=$(date +%s)
BASE_IMAGE=$BASE_IMAGE scripts/build_image.sh newswatch:local > "$LOGS/build.log" 2>&1 \
  || { tail -n 40 "$LOGS/build.log" >&2; echo "compose-test: the image build failed (log: $LOGS/build.log)" >&2; exit 1; }
tail -n 1 "$LOGS/build.log"
image_seconds=$(seconds "$step")

step=$(date +%s)
status=0
NEWSWATCH_TEST_COMPOSE=1 "$PYTHON" -m pytest tests/docker -p no:cacheprovider -rA -s -q ${PYTEST_ARGS:-} || status=$?
echo "compose-test: base image ${base_seconds} s, app image ${image_seconds} s, stack test $(seconds "$step") s, total $(seconds "$started") s (logs: $LOGS)"
exit "$status"
