# Every command a user or CI needs. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV ?= uv

.PHONY: help install test soak lint format run demo up down bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml uv.lock shared/pyproject.toml services/*/pyproject.toml
	$(UV) sync --locked --all-packages
	@touch $@

install: $(VENV)/.installed ## create .venv with the services, the shared library and dev tools

test: install ## run the whole suite (starts its own redis-server and service processes)
	@command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install -y redis-server"; exit 1; }
	$(VENV)/bin/pytest

soak: install ## the fault suite's soak at full size: 10,000 payments, a kill and a Redis restart
	SOAK_PAYMENTS=10000 $(VENV)/bin/pytest tests/faults/test_shutdown_and_soak.py -k test_soak -s

lint: install ## ruff (lint + format check), mypy, and the offline container checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	bash scripts/check_containers.sh

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

run: install ## run Redis (if REDIS_URL does not answer) and the services as local processes
	$(PY) scripts/run_local.py

demo: install ## walk through the three patterns against a running system (make run first)
	$(PY) scripts/demo.py

bench: ## measure the system beside same-run baselines (needs redis-server and wrk); writes bench/results.json
	$(UV) sync --locked --all-packages --group bench
	$(PY) -m bench

up: ## docker compose up --build (needs a Docker engine)
	docker compose up --build

down: ## docker compose down
	docker compose down
