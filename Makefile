# Custodia: `make run` starts the hub, `make test` runs the suite (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
MANAGE := $(UV) run --frozen python manage.py

.PHONY: help uv install run migrate seed test test-fast fuzz lint format bench bench-scale browser-deps sso-deps test-idp clean messages

help:
	@echo "make run    - install, migrate, seed demo data, start web + worker + beat (Ctrl-C stops all)"
	@echo "make test   - install and run the whole test suite"
	@echo "make fuzz   - fuzz the API against its OpenAPI schema on a live server (schemathesis)"
	@echo "make lint   - ruff lint and format check, the import contract (lint-imports), mypy"
	@echo "make bench  - run the benchmarks, write docs/benchmarks.md"
	@echo "make bench-scale - PostgreSQL, not in CI: decisions on a large ledger; erasure, the audience feed and matching among 1,000,000 subjects"

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set (as on our machines), every
# process start (a worker, a manage.py command, the test run) otherwise compiles each module it
# imports from source again, about a second of CPU each. Later runs only check the .pyc files.
install: uv
	$(UV) sync --frozen --compile-bytecode
	@$(UV) run --frozen python -m compileall -q -x '(\.venv|node_modules|\.git)/' .

migrate: install
	$(MANAGE) migrate --noinput

seed: migrate
	$(MANAGE) seed_demo

run: seed
	$(UV) run --frozen honcho start -f Procfile

browser-deps:
	@bash scripts/install-browser.sh

# xmlsec1 signs and verifies SAML (pysaml2): the sso app and its tests need it.
sso-deps:
	@bash scripts/install-xmlsec.sh

# A local OpenID provider to try single sign-on against (docs/sso.md).
test-idp: install
	$(UV) run --frozen python -m tests.sso.oidc_provider --port 9400

test: install browser-deps sso-deps
	$(UV) run --frozen pytest

test-fast: install sso-deps
	$(UV) run --frozen pytest -m "not e2e and not browser"

fuzz: install
	bash scripts/fuzz.sh

lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports
	$(UV) run --frozen mypy

format: install
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

bench: install
	$(UV) run --frozen python bench/bench_crypto.py
	$(UV) run --frozen python bench/bench_crypto.py --postgres
	$(UV) run --frozen python bench/bench_import.py
	$(UV) run --frozen python bench/bench_import.py --postgres
	$(UV) run --frozen python bench/bench_dsar.py
	$(UV) run --frozen python bench/bench_dsar.py --postgres
	$(UV) run --frozen python bench/bench_matching.py --scale 10000,100000
	$(UV) run --frozen python bench/bench_matching.py --postgres --scale 10000,100000
	$(UV) run --frozen python bench/bench_stores.py
	$(UV) run --frozen python bench/bench_stores.py --target postgresql
	$(UV) run --frozen python bench/bench_sources.py
	$(UV) run --frozen python bench/bench_sources.py --postgres --large 100000
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(UV) run --frozen python bench/bench_consent_api.py
	$(UV) run --frozen python bench/bench_consent_api.py --postgres

# PostgreSQL only, not in CI: a large consent ledger (decisions), 1,000,000 subjects (erasure),
# matching cost per record against 10,000 to 1,000,000 existing subjects.
bench-scale: install
	$(UV) run --frozen python bench/bench_scale.py
	$(UV) run --frozen python bench/bench_erasure_scale.py
	$(UV) run --frozen python bench/bench_sources.py --postgres
	$(UV) run --frozen python bench/bench_matching.py --postgres --only-scale --scale 10000,100000,1000000

clean:
	rm -rf var/ .pytest_cache .ruff_cache

messages:  # after changing a public string: regenerate the catalogues (both files are committed)
	$(UV) run --frozen python scripts/translations.py
	$(MANAGE) compilemessages --ignore=.venv
