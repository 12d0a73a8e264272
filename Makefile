# make run   set up .venv if needed and start `psi chat` on the embedded model
# make test  set up .venv with dev extras (and PostgreSQL + pgvector and Chromium where it
#            can), and run ruff, mypy and pytest on SQLite and PostgreSQL, and the web
#            app's tests in a real Chromium
# make install  set up .venv with psi (no dev tools)

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check
QUIET ?= -q

.PHONY: run test install install-dev lint clean postgres chromium

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)

# Stamps make a second `make run` start at once; pyproject.toml changes reinstall.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	@echo "Installing psi into $(VENV) (the first time compiles llama-cpp-python: about 5 minutes)" >&2
	@$(PIP) install $(QUIET) torch==2.13.0 >&2
	@$(PIP) install $(QUIET) -e . >&2
	@touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	@echo "Installing psi with dev tools into $(VENV) (the first time compiles llama-cpp-python: about 5 minutes)" >&2
	@$(PIP) install $(QUIET) torch==2.13.0 >&2
	@$(PIP) install $(QUIET) -e '.[dev]' >&2
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

run: install
	@$(BIN)/psi chat

lint: install-dev
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

# PostgreSQL + pgvector for the suites that run on both databases (needs root and
# apt-get; without them those runs are skipped with a note, and .ci/run requires them).
postgres:
	@scripts/install-postgres || echo "PostgreSQL + pgvector missing: its test runs are skipped" >&2

# Debian's Chromium for the web app's browser tests (pytest -m browser); without it they
# are skipped with a note, and .ci/run requires it.
chromium:
	@scripts/install-chromium || echo "Chromium missing: the browser tests are skipped" >&2

test: lint postgres chromium
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
