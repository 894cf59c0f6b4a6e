# The two commands of the quick start, and a few more. Needs Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install lint reliability benchmark eval clean compose-test image base-image lock

$(BIN)/newswatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

install: $(BIN)/newswatch

## A monitoring pass over the bundled offline sample (SQLite, no Prefect server).
demo: install
	$(BIN)/newswatch demo

## The whole test suite: lint, the type checker (strict on storage/ and tasks/: [tool.mypy]
## in pyproject.toml), the tests, then the reliability suite with its table.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --ignore=tests/reliability $(PYTEST_ARGS)
	$(BIN)/python scripts/reliability.py

## Hostile feeds, crashes, concurrency, injection: prints case, outcome, time, peak memory.
reliability: install
	$(BIN)/python scripts/reliability.py

## `newswatch run` timed whole on real and generated pages against the bare trafilatura loop,
## fixed costs with and without a Prefect server, memory: every figure of docs/performance.md.
benchmark: install
	$(BIN)/python benchmarks/run_bench.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

## The compose stack in Docker: build the images, run docker-compose.yml with a sharded
## pass and deliveries, check them, remove the containers (scripts/compose_test.sh).
compose-test: install
	PYTHON=$(BIN)/python scripts/compose_test.sh

## A Debian base image with Python from Debian's packages (no registry needed; kept once built).
base-image:
	scripts/base_image.sh

## The app image, newswatch:local (BASE_IMAGE=... to build on another base).
image:
	scripts/build_image.sh newswatch:local

## Refresh requirements.lock (the image's pinned, hashed requirements) from pyproject.toml.
lock: install
	$(BIN)/python -m pip install --quiet "uv==0.13.8"
	UV=$(BIN)/uv scripts/lock.sh

## Quality figures: topic precision/recall, story dedup, extraction (need ../shared for topics).
eval: install
	$(BIN)/python scripts/eval_topics.py
	$(BIN)/python scripts/eval_stories.py

clean:
	rm -rf $(VENV) newswatch-demo .pytest_cache
