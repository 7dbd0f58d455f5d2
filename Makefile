# servicechain: `make demo` and `make test` work on a fresh Debian machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/servicechain_test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages: WeasyPrint's native libraries and Cyrillic fonts for PDFs.
APT_APP := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fontconfig
# What the tests need on top: PostgreSQL, chromium for browser tests, poppler for PDF checks.
APT_TEST := postgresql chromium poppler-utils

.PHONY: install demo serve test test-sqlite test-postgres test-browser audit bench messages compile-messages sysdeps sysdeps-test postgres clean

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) requirements.lock requirements-dev.lock pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock -r requirements-dev.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/@picocss/pico/css/pico.min.css static/vendor/pico.min.css
	touch $@

compile-messages: $(VENV)/.installed
	$(BIN)/pybabel -q compile -d locale -D messages

## Extract strings from code and templates and update both catalogs.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k _ -o locale/messages.pot --no-location --sort-output .
	$(BIN)/pybabel -q update -i locale/messages.pot -d locale -D messages --no-fuzzy-matching --ignore-obsolete

install: $(VENV)/.installed static/vendor/.installed compile-messages

# apt-get as root, or print the exact command for someone who is.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "Missing system packages. Run: sudo apt-get install -y $$missing"; exit 2; fi; \
	fi
endef

sysdeps:
	$(call apt_install,$(APT_APP))

sysdeps-test: sysdeps
	$(call apt_install,$(APT_TEST))

## Install PostgreSQL where missing, start it when down.
postgres: sysdeps-test
	@scripts/ensure-postgres

demo: install sysdeps
	$(BIN)/servicechain migrate
	$(BIN)/servicechain demo   # prints the demo accounts
	@echo
	@echo "Serving on http://127.0.0.1:8000 (Ctrl+C stops)"
	$(BIN)/servicechain serve --host 127.0.0.1 --port 8000

# The three suites share nothing (the SQLite and browser suites each make their own temporary
# folder, the PostgreSQL suite its databases named after PG_TEST_URL; the ops tests' servers take
# ports by engine), so they run two at a time on CI's two cores: the PostgreSQL suite, the longest,
# beside the SQLite suite and then the browser tests (one after another: 395 s on a quiet
# machine; two at a time: 242 s). --output-sync prints each suite's output whole when it ends; -k
# lets the others finish when one fails; every suite ends on a line saying whether it passed, and
# `make test` fails when any suite failed.
test: install sysdeps-test postgres
	@$(MAKE) --no-print-directory -j2 -k --output-sync=target test-postgres test-sqlite test-browser

# $(1): the suite's name in that last line; $(2): its command.
define run_suite
	@echo '$(2)'
	@start=$$SECONDS; $(2) && echo "=== $(1): passed in $$((SECONDS - start)) s" \
	  || { status=$$?; echo "=== $(1): FAILED (exit $$status) in $$((SECONDS - start)) s"; exit $$status; }
endef

test-sqlite:
	$(call run_suite,SQLite suite,SERVICECHAIN_ENV=test $(BIN)/pytest -q -m "not browser and not postgres_only" -p no:playwright-asyncio)

test-postgres:
	$(call run_suite,PostgreSQL suite,SERVICECHAIN_ENV=test DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q -m "not browser and not sqlite_only" -p no:playwright-asyncio)

test-browser:
	$(call run_suite,browser suite,SERVICECHAIN_ENV=test $(BIN)/pytest -q -m browser tests/browser)

## Known vulnerabilities in the pinned dependencies, minus security/pip-audit-allowlist.toml.
audit: $(VENV)/.installed
	$(PY) scripts/pip-audit

bench: install sysdeps-test postgres
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) node_modules static/vendor data
