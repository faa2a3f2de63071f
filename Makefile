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
# The model the local twin serves: issue 4 ships models/default; any exported folder works.
MODEL ?= models/default

.PHONY: test run lint test-tensorflow test-jax bench-load clean

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-tensorflow: $(STAMP) $(STACK_STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/pytest

# The model tests again on JAX: training must not depend on TensorFlow.
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/pytest -m keras_backend

test: lint test-tensorflow test-jax

# The AWS stack's local twin: SeaweedFS, the API and the inpainting worker, until Ctrl-C.
run: $(STAMP)
	$(BIN)/python -m holefill.twin --model $(MODEL)

# 8 clients x 50 jobs against a local twin (an untrained model unless MODEL is given).
bench-load: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/python bench/load.py $(if $(filter command line,$(origin MODEL)),--model $(MODEL))

clean:
	rm -rf $(VENV) $(STACK_VENV) build *.egg-info
