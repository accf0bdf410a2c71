# The two commands: `make demo` and `make test`. Both create or reuse .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The versions the app is tested with: every install takes them from here (see `make lock`).
CONSTRAINTS := constraints.txt
LOCK_VENV := .lock-venv

.PHONY: demo test lint bench clean lock

$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[test,bench]"
	touch $(STAMP)

# Rewrite constraints.txt from a fresh environment: the current pins are kept and dependencies new to
# pyproject.toml get their newest allowed version; `make lock UPGRADE=1` re-resolves everything to the newest.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet $(if $(UPGRADE),,-c $(CONSTRAINTS)) -e ".[test,bench]"
	{ echo "# Written by \`make lock\` (pip freeze of a fresh install, curator itself left out): do not edit."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable --exclude curator | LC_ALL=C sort -f; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf $(LOCK_VENV)

demo: $(STAMP)
	$(BIN)/curator demo --dir demo

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check curator scheduler tests bench

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/send.py
	$(BIN)/python bench/webhook.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) demo test-artifacts .pytest_cache
