# TrustDesk: `make run` serves the demo marketplace, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
VENDOR := src/trustdesk/web/static/vendor

.PHONY: run test install install-dev assets migrate demo serve lint fmt bench clean

run: install assets migrate demo serve ## set everything up and serve http://127.0.0.1:8000

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@ $(STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Front-end packages come from npm (package.json + lock) and are served from our own origin.
$(VENDOR)/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js

assets: $(VENDOR)/htmx.min.js

migrate: install
	$(BIN)/trustdesk migrate

demo: install
	$(BIN)/trustdesk demo

serve: install assets
	@echo "TrustDesk on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs)"
	$(BIN)/trustdesk serve

test: install-dev assets ## the whole suite: SQLite, plus PostgreSQL when TRUSTDESK_TEST_DATABASE_URL is set
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

fmt: install-dev
	$(BIN)/ruff check --fix src tests bench

bench: install-dev assets ## benchmarks against PostgreSQL (see docs/benchmarks.md)
	$(BIN)/python bench/intake.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/sla.py
	$(BIN)/python bench/oncall.py
	$(BIN)/python bench/kb.py
	$(BIN)/python bench/gaps.py
	$(BIN)/python bench/appeals.py
	$(BIN)/python bench/insights.py

# Where the CPU build of torch (constraints.txt) is found when re-pinning.
TORCH_WHEELS ?= /opt/wheels
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --extra embeddings -c constraints.txt --find-links $(TORCH_WHEELS) \
	--generate-hashes --python-version 3.11 -q

lock: ## re-pin dependencies after editing pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(UV_COMPILE) -o requirements.lock
	$(UV_COMPILE) --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var .pytest_cache .mypy_cache .ruff_cache
