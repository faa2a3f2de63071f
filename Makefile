# `make test` and `make run` set everything up on a fresh machine: nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The stack's validators (SAM CLI, cfn-lint, checkov) pin protobuf and friends against
# TensorFlow's: they live in a venv of their own, used only by tests/test_stack.py.
STACK_VENV := .venv-stack
STACK_TOOLS := aws-sam-cli==1.170.0 cfn-lint==1.58.0 checkov==3.2.459
STACK_STAMP := $(STACK_VENV)/.installed
# The web app: npm ci when the lock file changed, a build when its sources did.
FRONTEND_STAMP := frontend/node_modules/.installed
FRONTEND_SOURCES := $(shell find frontend/src -type f) frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
WEB_APP := frontend/dist/index.html
# The browser of tests/test_web_app.py (Playwright's own download does not work here).
CHROMIUM := /usr/bin/chromium
# The model the local twin serves: issue 4 ships models/default; any exported folder works.
MODEL ?= models/default

.PHONY: test run lint test-web test-tensorflow test-jax bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalls only when pyproject.toml or the functions' shared requirements changed.
$(STAMP): pyproject.toml layers/common/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train,tensorflow,jax,test,twin]" -r layers/common/requirements.txt
	touch $(STAMP)

# Reinstalls when this Makefile (which pins the tools) changed.
$(STACK_STAMP): Makefile
	test -x $(STACK_VENV)/bin/python || $(PYTHON) -m venv $(STACK_VENV)
	$(STACK_VENV)/bin/pip install --quiet --upgrade pip
	$(STACK_VENV)/bin/pip install --quiet $(STACK_TOOLS)
	touch $(STACK_STAMP)

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	npm --prefix frontend ci --no-audit --no-fund
	touch $(FRONTEND_STAMP)

$(WEB_APP): $(FRONTEND_STAMP) $(FRONTEND_SOURCES)
	npm --prefix frontend run build

# Without root or apt the browser test skips, saying why.
$(CHROMIUM):
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| echo "Chromium could not be installed: tests/test_web_app.py will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The web app's state logic (Vitest); the browser tests run with pytest.
test-web: $(FRONTEND_STAMP)
	npm --prefix frontend test

test-tensorflow: $(STAMP) $(STACK_STAMP) $(WEB_APP) $(CHROMIUM)
	KERAS_BACKEND=tensorflow $(BIN)/pytest

# The model tests again on JAX: training must not depend on TensorFlow.
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/pytest -m keras_backend

test: lint test-web test-tensorflow test-jax

# The AWS stack's local twin: SeaweedFS, the API and the inpainting worker, until Ctrl-C.
run: $(STAMP) $(WEB_APP)
	$(BIN)/python -m holefill.twin --model $(MODEL)

# 8 clients x 50 jobs against a local twin (an untrained model unless MODEL is given).
bench-load: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/python bench/load.py $(if $(filter command line,$(origin MODEL)),--model $(MODEL))

clean:
	rm -rf $(VENV) $(STACK_VENV) build *.egg-info frontend/node_modules frontend/dist test-artifacts
