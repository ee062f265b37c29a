# Every command a user or CI needs. `make help` lists them.
# A new machine needs only python3 (3.11+): the pinned uv is installed into .tools/ when it is
# not on the PATH, and redis-server is the one thing `make run` and `make test` ask for;
# `make lint` also asks for promtool (Debian's `prometheus` package), and the tests skip the
# Prometheus checks without it.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .tools/bin
UV ?= $(shell command -v uv 2>/dev/null)
ifeq ($(strip $(UV)),)
UV := $(TOOLS)/uv
endif
NEED_REDIS = @command -v redis-server >/dev/null || { \
	echo "redis-server is not installed; on Debian/Ubuntu:  sudo apt-get install -y redis-server"; \
	exit 1; }

.PHONY: help install test test-quick soak lint format schemas run demo up down bench chaos chaos-all

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Only when `uv` is not on the PATH: the pinned uv, downloaded from PyPI and hash-checked.
$(TOOLS)/uv: scripts/install_uv.py
	python3 scripts/install_uv.py $(TOOLS)

$(VENV)/.installed: pyproject.toml uv.lock shared/pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --locked --all-packages
	@touch $@

install: $(VENV)/.installed ## create .venv with the services, the shared library and dev tools

# The suite mostly waits (for processes, failovers, polls), so two pytest-xdist workers cut its
# time on two cores (measured here: 13:26 serial, 9:50 with two; at 56c0e83 on a quiet
# machine 7:51 with two). Three were faster still (6:45) but left too little CPU for the
# tests that time what they wait for: two CI runs with three each failed one on a timeout.
# Each worker starts its own Redis and services, and a file's tests stay together
# (--dist loadfile: module fixtures are shared). The schemathesis file runs after, on its own: schemathesis 4.32.5 gives its 25
# operation tests one id on pytest 9, and xdist, which schedules by id, would run one of them
# in place of all. TEST_WORKERS=0: serial.
TEST_WORKERS ?= 2
SCHEMATHESIS := tests/e2e/test_schemathesis.py
test: install ## run the whole suite (starts its own redis-servers and service processes)
	$(NEED_REDIS)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --ignore=$(SCHEMATHESIS)
	$(VENV)/bin/pytest $(SCHEMATHESIS)

test-quick: install ## the edit loop: unit and in-memory contract tests only (no Redis, seconds)
	$(VENV)/bin/pytest tests/unit tests/contracts -m "not redis"

soak: install ## the fault suite's soak at full size: 10,000 payments, a kill and a Redis restart
	$(NEED_REDIS)
	SOAK_PAYMENTS=10000 $(VENV)/bin/pytest tests/faults/test_shutdown_and_soak.py -k test_soak -s

lint: install ## ruff (lint + format check), mypy, import contracts, the offline container and Prometheus checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	bash scripts/check_containers.sh
	bash scripts/check_k8s.sh

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schemas: install ## write docs/schemas/ (a JSON Schema per event data version, the envelope, the catalog) from the code
	$(PY) -m scripts.export_schemas

run: install ## run Redis (unless REDIS_URL answers) and the services as local processes
	$(PY) scripts/run_local.py

demo: install ## walk through the three patterns against a running system (make run first)
	$(PY) scripts/demo.py

bench: | $(UV) ## measure the system beside same-run baselines (needs redis-server and wrk); writes bench/results.json; BENCH_ARGS="--figures growth" for the growth curves
	$(NEED_REDIS)
	$(UV) sync --locked --all-packages --group bench
	$(PY) -m bench $(BENCH_ARGS)

# A chaos run (docs/chaos.md): the system under concurrent clients while a nemesis drawn from
# SEED injects faults for DURATION seconds; then every fault healed, every process stopped, the
# history checked. Fails on any anomaly. ARGS=--cluster: on the local six-node Redis Cluster.
SEED ?= 1
DURATION ?= 60
chaos: install ## randomized faults under load, then a checker (SEED=1 DURATION=60 ARGS=--cluster)
	$(NEED_REDIS)
	$(PY) -m chaos run --seed $(SEED) --duration $(DURATION) $(ARGS)

# The matrix: SEEDS x {standalone, cluster}, MATRIX_DURATION seconds each; a table for docs/chaos.md.
SEEDS ?= 1-20
MATRIX_DURATION ?= 30
MATRIX_RATE ?= 0.25
chaos-all: install ## chaos runs over SEEDS (1-20) x {standalone, cluster}; results in .chaos/matrix-<time>/matrix.md
	$(NEED_REDIS)
	$(PY) -m chaos matrix --seeds $(SEEDS) --duration $(MATRIX_DURATION) --rate $(MATRIX_RATE)

up: ## docker compose up --build (needs a Docker engine)
	docker compose up --build

down: ## docker compose down
	docker compose down
