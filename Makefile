# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
# Three workers on the 2-core machine the suite is budgeted for: much of its time is waiting (a browser
# polling, a runtime's batching window, a simulated device's next minute), which a third worker fills
# (15:39 on two workers, 12:34 on three, 2026-12-03). tests/conftest.py keeps the tests that share one
# Terraform apply on one worker, and each other file on one worker.
PYTEST_ARGS ?= -n 3 --dist loadgroup
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-deps setup lint bench diagram screenshot docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

## Start the local runtime on the embedded defaults (Ctrl-C stops cleanly).
run: $(STAMP)
	$(VENV)/bin/energymon run $(ARGS)

## Lint and type checks, then unit, functional, integration, end-to-end and browser tests.
## test-deps comes first (prerequisites are made left to right): it installs mosquitto, chromium and
## checkov when it can (root + apt-get) and otherwise stops, naming what is missing and how to install it.
test: test-deps $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-deps:
	@PYTHON=$(PYTHON) bash tools/ensure-test-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

## Benchmarks print figures; they are run on purpose, never by `make test`.
bench: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

## The architecture diagram (docs/energy-monitoring-architecture.png/.svg) from docs/architecture.py.
## Needs Graphviz's dot (Debian graphviz; make test-deps installs it as root).
diagram: $(STAMP)
	@command -v dot >/dev/null || { echo "make diagram: Graphviz is missing: sudo apt-get install graphviz"; exit 1; }
	$(PY) docs/architecture.py

## The dashboard screenshot in docs/ (headless Chromium over a short simulated run).
screenshot: $(STAMP)
	$(PY) docs/screenshot.py

## Everything generated in the docs: the diagram, the screenshot, the Terraform README tables.
docs: diagram screenshot
	$(PY) infra/terraform/tools/render_docs.py

clean:
	rm -rf $(VENV) energymon-data .pytest_cache .mypy_cache .ruff_cache
