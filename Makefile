# nbtrail: `make run` and `make test` are all a new machine needs (Python 3.11).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint format lab clean chromium bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# requirements.lock is the complete, resolved set, so it installs with --no-deps. It leaves out
# rfc3987-syntax (and its lark), an optional format checker of jsonschema that costs ~1.8 s at
# every import of jsonschema (nbformat, papermill, nbtrail's record validation): see BENCHMARKS.md.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned dependencies

run: $(STAMP) ## run the whole pipeline on the bundled default dataset, then publish the site
	$(BIN)/nbtrail run
	$(BIN)/nbtrail publish

test: lint chromium ## lint, then every test
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint + format check), import-linter (the layers), mypy (lib/)
	$(BIN)/ruff check lib tests bench notebooks
	$(BIN)/ruff format --check lib tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# The browser tests drive Debian's chromium. Installed here when missing and we may (root, or
# passwordless sudo, with apt); otherwise one line says what to install.
CHROMIUM ?= /usr/bin/chromium
chromium: ## install Debian's chromium for the browser tests when it is missing
	@test -x $(CHROMIUM) || { \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	  else echo "make: the browser tests need Debian's chromium: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi; \
	  echo "make: installing Debian's chromium for the browser tests (apt-get)"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Every benchmark in bench/ at a bounded size (<= 15 min on 2 cores), BENCHMARKS.md rewritten
# from their --summary JSON; the full-size commands are listed there.
bench: $(STAMP) ## run every benchmark at a bounded size and rewrite BENCHMARKS.md
	$(BIN)/python bench/make_bench.py $(BENCH_ARGS)

format: $(STAMP) ## apply ruff formatting
	$(BIN)/ruff format lib tests bench
	$(BIN)/ruff check --fix lib tests bench

# JupyterLab at the project root (the reports' inline snippets fetch /files/workspace/...), with a
# token of our own so the URL printed first is the one to open; executed notebooks of runs are
# trusted (the runner signs them in the default Jupyter data dir), so their reports render.
LAB_IP   ?= 127.0.0.1
LAB_PORT ?= 8888
LAB_ARGS ?=
lab: $(STAMP) ## open JupyterLab on the project; prints the URL of notebooks/00_workspace.ipynb
	@token=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(16))'); \
	echo "nbtrail: JupyterLab at http://$(LAB_IP):$(LAB_PORT)/lab/tree/notebooks/00_workspace.ipynb?token=$$token"; \
	exec $(BIN)/jupyter lab --ServerApp.root_dir=. --ServerApp.ip=$(LAB_IP) --ServerApp.port=$(LAB_PORT) \
	  --ServerApp.port_retries=0 --ServerApp.open_browser=False --IdentityProvider.token=$$token \
	  $(if $(filter 0,$(shell id -u)),--allow-root,) $(LAB_ARGS)

clean: ## remove the generated workspace contents (keeps .venv)
	find workspace -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
