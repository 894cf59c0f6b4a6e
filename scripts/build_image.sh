#!/usr/bin/env bash
# Build the newswatch image from the Dockerfile, with this machine's pip settings.
#
#   scripts/build_image.sh [TAG]            # default newswatch:local
#   BASE_IMAGE=newswatch-base:bookworm scripts/build_image.sh
#
# The package index (PIP_INDEX_URL or pip's global.index-url) and the CA certificates
# (PIP_CERT, pip's global.cert, REQUESTS_CA_BUNDLE or SSL_CERT_FILE) reach the build as
# BuildKit secrets: the dependency install reads them, no layer keeps them. Unset, the
# build uses PyPI and the base image's certificates. BUILD_NETWORK (default host) is the
# network of the build's RUN steps; a Docker engine without a bridge needs host.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-newswatch:local}

# A client that builds with BuildKit: one with buildx, or a Docker 20.10-22 client, whose
# BuildKit is built in (DOCKER_BUILDKIT=1). A newer client without buildx cannot.
pick_docker() {
  local candidate major
  for candidate in ${DOCKER:-} docker /usr/bin/docker; do
    command -v "$candidate" > /dev/null || continue
    if "$candidate" buildx version > /dev/null 2>&1; then echo "$candidate"; return; fi
    major=$("$candidate" version --format '{{.Client.Version}}' 2> /dev/null | cut -d. -f1 || true)
    if [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -lt 23 ]; then echo "$candidate"; return; fi
  done
}
DOCKER_CLIENT=$(pick_docker)
if [ -z "$DOCKER_CLIENT" ]; then
  echo "build_image.sh: no docker client that builds with BuildKit (install docker-buildx, or Debian's docker.io)" >&2
  exit 2
fi

pip_setting() {  # $1: environment variable, $2: pip config key
  local value=${!1:-}
  if [ -z "$value" ]; then value=$(python3 -m pip config get "global.$2" 2> /dev/null || true); fi
  echo "$value"
}

SECRETS=$(mktemp -d)
trap 'rm -rf "$SECRETS"' EXIT
args=(--network "${BUILD_NETWORK:-host}" --tag "$TAG")
[ -n "${BASE_IMAGE:-}" ] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")

index_url=$(pip_setting PIP_INDEX_URL index-url)
if [ -n "$index_url" ]; then
  (umask 077 && printf '%s' "$index_url" > "$SECRETS/index_url")
  args+=(--secret "id=pip_index_url,src=$SECRETS/index_url")
fi
cert=$(pip_setting PIP_CERT cert)
cert=${cert:-${REQUESTS_CA_BUNDLE:-${SSL_CERT_FILE:-}}}
if [ -n "$cert" ] && [ -f "$cert" ]; then
  args+=(--secret "id=pip_cert,src=$cert")
fi

started=$(date +%s)
DOCKER_BUILDKIT=1 "$DOCKER_CLIENT" build --progress "${BUILD_PROGRESS:-plain}" "${args[@]}" .
size=$("$DOCKER_CLIENT" image inspect -f '{{.Size}}' "$TAG")
echo "image $TAG: built in $(( $(date +%s) - started )) s, $(( size / 1000000 )) MB (base ${BASE_IMAGE:-python:3.11-slim})"
