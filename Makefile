# Caly: `make run` serves a demo on http://127.0.0.1:8000 (HOST=, PORT= to move it), `make test` runs the whole suite.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
# Links in e-mails and provider callback URLs follow the dev server unless SITE_URL is set (environment or .env).
DEV_SITE_URL = $(or $(SITE_URL),$(shell sed -n 's/^SITE_URL=//p' .env 2>/dev/null | tail -n 1),http://$(HOST):$(PORT))
VENV := .venv
BIN := $(VENV)/bin
# Two install sets: running the app needs requirements.txt only; tests and tools need the dev set too.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test fuzz hardening-long lint format docs serve worker migrate demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): $(BIN)/python requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

migrate: $(RUN_STAMP)
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	SITE_URL=$(DEV_SITE_URL) $(BIN)/python manage.py seed_demo

# Development server plus the task worker, stopped together with Ctrl-C.
run: demo
	@trap 'kill 0' INT TERM EXIT; export SITE_URL=$(DEV_SITE_URL); \
	$(BIN)/python manage.py run_worker & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Schemathesis on every API operation, with 200 generated examples each instead of CI's 25
# (tests/test_fuzz_api.py). FUZZ_EXAMPLES and FUZZ_SEED change the size and the seed.
fuzz: $(DEV_STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest tests/test_fuzz_api.py $(PYTEST_ARGS)

# Faults, restarts under load and several instances, at length (the suite runs shorter versions): 45 s of
# load through each restart, 5,000 webhooks to two instances, a 90 s database partition, S3 hanging for
# the production timeouts. Needs PostgreSQL and redis-server on 127.0.0.1; CI=true fails anything skipped.
HARDENING_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/caly
HARDENING_REDIS_URL ?= redis://127.0.0.1:6379/0
hardening-long: $(DEV_STAMP)
	CI=true CALY_HARDENING_LONG=1 DATABASE_URL=$(HARDENING_DATABASE_URL) REDIS_URL=$(HARDENING_REDIS_URL) \
	$(BIN)/python -m pytest -s tests/test_restarts.py tests/test_several_instances.py \
	tests/test_faults_database.py tests/test_faults_redis.py tests/test_faults_storage.py tests/test_faults_worker.py --timeout 3600 \
	$(PYTEST_ARGS)

# ruff, then the layer contract ([tool.importlinter] in pyproject.toml), then types ([tool.mypy]).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# .env.example and the README tables are generated from caly/foundation/env.py and caly/foundation/api/errors.py.
docs: $(RUN_STAMP)
	$(BIN)/python -m caly.docs

# Production-style server: gunicorn with gunicorn.conf.py (needs collectstatic for static files).
serve: $(RUN_STAMP)
	$(BIN)/python manage.py collectstatic --noinput
	$(BIN)/python -m caly.serve

worker: $(RUN_STAMP)
	$(BIN)/python manage.py run_worker

# Load, growth and memory benchmarks (bench/README.md): PostgreSQL and Redis on 127.0.0.1. The first run
# creates and seeds BENCH_DATABASE_URL (about five minutes); every step runs, and any missed target fails.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/caly_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/0
BENCH_ENV = DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL)
bench: $(DEV_STAMP)
	$(BENCH_ENV) $(BIN)/python bench/prepare.py
	@status=0; \
	$(BENCH_ENV) $(BIN)/python bench/load.py --users 100 300 --seconds 60 || status=1; \
	$(BENCH_ENV) $(BIN)/python bench/growth.py || status=1; \
	$(BENCH_ENV) $(BIN)/python bench/fetch_memory.py || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
