# Two commands on a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export FLEET_STATE_DIR ?= $(CURDIR)/.local
# SOURCE_DIR=path: upload that folder of NDJSON event files instead of simulating a feed
SOURCE_DIR ?=
DB ?= dwh_db
# make bench SIZE=0.1: a tenth of the default day (100 vehicles x 24 h)
SIZE ?= 1
# backups kept per database
KEEP ?= 7

.PHONY: help install up down status dsn run test test-fast lint format airflow bench backup restore-check vacuum freshness alert-test docs reports chromium governance user clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)  ## virtual environment with the pinned packages

up: $(STAMP)  ## start the embedded PostgreSQL + SeaweedFS (state in $FLEET_STATE_DIR)
	$(PY) -m pipeline_core.stack up

down: $(STAMP)  ## stop them (data is kept)
	$(PY) -m pipeline_core.stack down

status: $(STAMP)  ## what runs
	$(PY) -m pipeline_core.stack status

dsn: $(STAMP)  ## libpq URI of DB (default dwh_db), e.g. psql "$$(make -s dsn DB=raw_db)"
	@$(PY) -m pipeline_core.stack dsn $(DB)

run: $(STAMP)  ## set up, seed the source (or SOURCE_DIR), run main_dag, print the summary
	$(PY) -m pipeline_core.runner $(if $(SOURCE_DIR),--source-dir "$(SOURCE_DIR)")

test: $(STAMP) chromium  ## the whole test suite with the coverage gate (starts and stops its own servers)
	$(VENV)/bin/pytest --cov --cov-report=term-missing:skip-covered \
		--cov-report=xml:test-artifacts/coverage.xml

test-fast: $(STAMP)  ## unit tests only (no coverage gate)
	$(VENV)/bin/pytest tests/unit

lint: $(STAMP)  ## black, ruff (with AIR), bandit and pip-audit through pre-commit
	$(VENV)/bin/pre-commit run --all-files

format: $(STAMP)  ## apply black and ruff fixes
	$(VENV)/bin/black . && $(VENV)/bin/ruff check --fix .

airflow: $(STAMP)  ## Airflow UI on http://localhost:8080 with this repo's DAGs (Ctrl-C stops)
	$(PY) -m pipeline_core.airflow_env standalone

bench: $(STAMP)  ## benchmark every stage on a real-shaped day (SIZE=1: 100 vehicles x 24 h)
	$(PY) bench/bench.py --size $(SIZE)

backup: $(STAMP)  ## pg_dump every warehouse database to s3://fleet-lake/backups/ (newest KEEP kept)
	$(PY) -m dwh_pipelines.maintenance backup --keep $(KEEP)

restore-check: $(STAMP)  ## restore DB's latest backup into <DB>_restore_check and compare row counts
	$(PY) -m dwh_pipelines.maintenance restore-check $(DB)

vacuum: $(STAMP)  ## VACUUM (ANALYZE) every warehouse database, report invalid/unused indexes
	$(PY) -m dwh_pipelines.maintenance vacuum

freshness: $(STAMP)  ## how far dwh_db lags the feed (fails over 30 minutes, as freshness_dag alerts)
	$(PY) -m dwh_pipelines.maintenance freshness

alert-test: $(STAMP)  ## send a sample alert to FLEET_ALERT_WEBHOOK_URL / FLEET_ALERT_EMAIL_TO
	$(PY) -m pipeline_core.alerting

docs: $(STAMP)  ## data dictionary, ERD, lineage from the live catalog (docs/*.md + reports/data_docs.html)
	$(PY) -m dwh_pipelines.datadocs

reports: $(STAMP)  ## rebuild the analyst pages (reports/index.html) from dwh_db
	$(PY) -m dwh_pipelines.reporting

chromium:  ## headless Chromium for the browser tests (Debian package, apt-get as root)
	bash scripts/install-chromium.sh

governance: $(STAMP)  ## apply governance/policy.yaml (roles, grants, RLS, masking) to the warehouse
	$(PY) -m dwh_pipelines.governance apply

user: $(STAMP)  ## create a login: make user NAME=alice ROLE=junior_data_analyst (password prompted)
	$(PY) -m dwh_pipelines.governance create-user $(NAME) --role $(ROLE)

clean: down  ## stop the stack and delete all local state (lake, warehouse, Airflow)
	rm -rf $(FLEET_STATE_DIR) reports
