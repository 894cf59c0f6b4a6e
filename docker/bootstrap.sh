#!/bin/sh
# One-shot setup of a Prefect server for newswatch (the compose `bootstrap` service).
# Safe to run again: the work pool, limits and automations are created only when missing,
# and deployments are updated in place. Usage: bootstrap.sh [PREFECT_FILE]
set -eu
newswatch bootstrap --pool newswatch  # also creates newswatch-control
prefect --no-prompt deploy --all --prefect-file "${1:-prefect.yaml}"
