# `make test` and `make run` set everything up on a fresh machine: nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test run lint test-tensorflow test-jax clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalls only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train,tensorflow,jax,test]"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test-tensorflow: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/pytest

# The model tests again on JAX: training must not depend on TensorFlow.
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/pytest -m keras_backend

test: lint test-tensorflow test-jax

run: $(STAMP)
	$(BIN)/holefill --help

clean:
	rm -rf $(VENV) build *.egg-info
