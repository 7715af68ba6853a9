# Thin entry points; the logic lives in shared/devservices.py, shared/cli.py and the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OFFNET := $(VENV)/bin/offnet

.PHONY: install services run up down test test-faults test-fuzz bench lint

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

# RabbitMQ and the CouchDB-compatible server: installed and started only when missing.
services: install
	$(PY) -m shared.devservices up

run: services
	$(OFFNET) setup
	$(OFFNET) run

up: services
	$(OFFNET) setup
	$(OFFNET) up

down:
	-@$(OFFNET) down
	-@$(PY) -m shared.devservices down

test: install
	$(PY) -m pytest

# Kill, disconnect and outage tests (bounded in time); CI runs them after `make test`. The jobs
# worker's SIGKILL test lives with the other jobs tests (issue 7 wants it in `make test` too).
test-faults: install
	$(PY) -m pytest tests/faults \
		tests/integration/test_jobs_recovery.py::test_killed_worker_job_completes_exactly_once

# schemathesis against /v2/openapi.json with a valid token (bounded in time).
test-fuzz: install
	$(PY) -m pytest tests/fuzz

bench: services
	$(PY) -m tests.bench $(ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared services
