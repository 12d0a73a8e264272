# make run   set up .venv if needed and start `psi chat` on the embedded model
# make test  set up .venv with dev extras and run ruff, mypy and pytest
# make install  set up .venv with psi (no dev tools)

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check
QUIET ?= -q

.PHONY: run test install install-dev lint clean

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

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .pytest_cache .ruff_cache
