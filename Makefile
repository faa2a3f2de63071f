# `make test` and `make run` set everything up on a fresh machine: nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run` alone: serving and the twin, no TensorFlow, JAX or test tools (a light, quick set-up).
RUN_VENV := .venv-run
RUN_STAMP := $(RUN_VENV)/.installed
# The stack's validators (SAM CLI, cfn-lint, checkov) pin protobuf and friends against
# TensorFlow's: they live in a venv of their own, used only by tests/test_stack.py.
STACK_VENV := .venv-stack
STACK_TOOLS := aws-sam-cli==1.170.0 cfn-lint==1.58.0 checkov==3.2.459 uv==0.13.9
STACK_STAMP := $(STACK_VENV)/.installed
# The web app: npm ci when the lock file changed, a build when its sources did.
FRONTEND_STAMP := frontend/node_modules/.installed
FRONTEND_SOURCES := $(shell find frontend/src -type f) frontend/index.html frontend/vite.config.ts frontend/tsconfig.json
WEB_APP := frontend/dist/index.html
# The browser of tests/test_web_app_*.py (Playwright's own download does not work here).
CHROMIUM := /usr/bin/chromium
# The model the local twin serves: the shipped default, or any exported folder.
MODEL ?= models/default

.PHONY: test test-fast run lint lock api-types deploy destroy test-web test-tensorflow test-jax bench-load train-default clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstalls only when pyproject.toml or the functions' shared requirements changed.
$(STAMP): pyproject.toml layers/common/requirements.in | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train,tensorflow,jax,test,twin]" -r layers/common/requirements.in
	touch $(STAMP)

$(RUN_STAMP): pyproject.toml layers/common/requirements.in
	test -x $(RUN_VENV)/bin/python || $(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/pip install --quiet -e ".[twin]" -r layers/common/requirements.in
	touch $(RUN_STAMP)

# Reinstalls when this Makefile (which pins the tools) changed.
$(STACK_STAMP): Makefile
	test -x $(STACK_VENV)/bin/python || $(PYTHON) -m venv $(STACK_VENV)
	$(STACK_VENV)/bin/pip install --quiet --upgrade pip
	$(STACK_VENV)/bin/pip install --quiet $(STACK_TOOLS)
	touch $(STACK_STAMP)

# The deployed functions' dependencies, hash-locked for Lambda's Python 3.12 on Linux (x86_64
# and arm64): the layer's, and the image's (holefill's serving dependencies with the layer's).
# tests/test_deployment_packages_locks.py checks that they still satisfy their sources.
LOCK := $(STACK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.12 \
	--generate-hashes --custom-compile-command "make lock" \
	--constraint functions/inpaint/lock-constraints.txt
lock: $(STACK_STAMP)
	$(LOCK) layers/common/requirements.in --output-file layers/common/requirements.txt
	$(LOCK) pyproject.toml layers/common/requirements.in --output-file functions/inpaint/requirements.txt

# The web app's API types, from the API's OpenAPI document (tests/test_contracts.py checks
# that they are current).
api-types: $(STAMP)
	$(BIN)/python scripts/api_types.py

$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	npm --prefix frontend ci --no-audit --no-fund
	touch $(FRONTEND_STAMP)

$(WEB_APP): $(FRONTEND_STAMP) $(FRONTEND_SOURCES)
	npm --prefix frontend run build

# Without root or apt the browser test skips, saying why; in CI (CI=true) that fails instead.
$(CHROMIUM):
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
		|| { echo "Chromium could not be installed"; test "$$CI" != true || exit 1; \
			echo "tests/test_web_app_*.py will skip"; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The web app's hooks linted (eslint-plugin-react-hooks) and its state logic tested
# (Vitest); the browser tests run with pytest.
test-web: $(FRONTEND_STAMP)
	npm --prefix frontend run lint
	npm --prefix frontend test

test-tensorflow: $(STAMP) $(STACK_STAMP) $(WEB_APP) $(CHROMIUM)
	KERAS_BACKEND=tensorflow $(BIN)/pytest

# The model tests again on JAX: training must not depend on TensorFlow.
test-jax: $(STAMP)
	KERAS_BACKEND=jax $(BIN)/pytest -m keras_backend

test: lint test-web test-tensorflow test-jax

# The edit loop's lane (under 5 minutes): lint, the web app's unit tests and every test that
# trains nothing and needs neither the browser (slow) nor the stack's validators.
test-fast: lint test-web
	KERAS_BACKEND=tensorflow $(BIN)/pytest -m "not slow and not stack and not training"

# The AWS stack's local twin: SeaweedFS, the API and the inpainting worker, until Ctrl-C.
run: $(RUN_STAMP) $(WEB_APP)
	$(RUN_VENV)/bin/python -m holefill.twin --model $(MODEL)

# The stack and its web app on AWS (credentials and Docker needed): sam build and deploy, the
# web app with its config.json into the site bucket, CloudFront invalidated. Flags for sam
# deploy in SAM_DEPLOY_FLAGS, e.g. "--guided" the first time.
deploy: $(STACK_STAMP) $(WEB_APP)
	PATH="$(CURDIR)/$(STACK_VENV)/bin:$$PATH" $(STACK_VENV)/bin/python scripts/deploy.py deploy -- $(SAM_DEPLOY_FLAGS)

# Empties the stack's buckets, then deletes the stack.
destroy: $(STACK_STAMP)
	PATH="$(CURDIR)/$(STACK_VENV)/bin:$$PATH" $(STACK_VENV)/bin/python scripts/deploy.py destroy

# 8 clients x 50 jobs against a local twin (an untrained model unless MODEL is given).
bench-load: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/python bench/load.py $(if $(filter command line,$(origin MODEL)),--model $(MODEL))

# The shipped default model, from the shared photos: train, fine-tune with the encoder batch
# norm frozen, fine-tune again with 1 - SSIM in the loss (these three ran on a CPU), then three
# more such fine-tuning runs at batch 32 on the 256 px crops (these ran on a GPU: pass
# GPU_BACKEND=jax there), export, evaluate at 256 and 512 px (the uncertainty correlation at
# 256, where it costs a quarter), record it all in the card, and calibrate the uncertainty
# maps (the error map fitted on training photos, both maps judged on the validation set).
# Every stage resumes where an interrupted run stopped. Width, depth, loss and steps:
# docs/TRAINING.md.
SHARED_DATA ?= ../shared/data
DEFAULT_RUN ?= runs/default
TRAIN_STEPS ?= 13500
FINETUNE_STEPS ?= 6000
SSIM_STEPS ?= 10000
# Steps and learning rate of each batch-32 run, in order.
GPU_STAGES ?= 5500:1.5e-4 5500:3e-4 5000:3e-4
GPU_BACKEND ?= tensorflow
HARDWARE ?= $(shell nproc) CPU cores ($(shell lscpu | sed -n 's/^Model name: *//p'))
DEFAULT_DATA_TERMS := ImageNet sample photos (one per class; ImageNet terms) and BSDS500 \
	train+val (Arbelaez et al., TPAMI 2011): research use only. The weights inherit these terms.
# The recipe's flags (model, data, batches, loss): models/recipes/, read by --config.
RECIPE := --config models/recipes/default.toml
GPU_RECIPE := $(RECIPE) --config models/recipes/default-gpu.toml
HOLEFILL := KERAS_BACKEND=tensorflow $(BIN)/holefill
# Photos that scikit-image ships (public domain or CC0) for the sample grid of docs/TRAINING.md: the
# validation photos may not be redistributed.
GRID_PHOTOS := astronaut.png chelsea.png coffee.png rocket.jpg

train-default: $(STAMP)
	$(HOLEFILL) train $(RECIPE) --steps $(TRAIN_STEPS) --output $(DEFAULT_RUN)/train
	$(HOLEFILL) finetune $(RECIPE) --from $(DEFAULT_RUN)/train \
		--steps $(FINETUNE_STEPS) --output $(DEFAULT_RUN)/finetune
	$(HOLEFILL) finetune $(RECIPE) --from $(DEFAULT_RUN)/finetune \
		--loss-weight ssim=1 --steps $(SSIM_STEPS) --output $(DEFAULT_RUN)/finetune-ssim
	from=$(DEFAULT_RUN)/finetune-ssim; run=0; for stage in $(GPU_STAGES); do \
		run=$$((run + 1)); \
		KERAS_BACKEND=$(GPU_BACKEND) $(BIN)/holefill finetune $(GPU_RECIPE) \
			--from $$from --steps $${stage%%:*} --learning-rate $${stage##*:} \
			--output $(DEFAULT_RUN)/gpu-ssim-$$run || exit 1; \
		from=$(DEFAULT_RUN)/gpu-ssim-$$run; \
	done; \
	$(HOLEFILL) export --from $$from --tile-size 512 --output models/default
	$(HOLEFILL) evaluate --model models/default --images $(SHARED_DATA)/val/images \
		--masks $(SHARED_DATA)/val/masks --size 256 --uncertainty-samples 16 \
		--output $(DEFAULT_RUN)/evaluation-256
	$(HOLEFILL) evaluate --model models/default --images $(SHARED_DATA)/val/images \
		--masks $(SHARED_DATA)/val/masks --size 512 --output $(DEFAULT_RUN)/evaluation-512
	mkdir -p $(DEFAULT_RUN)/grid-photos
	cd $$($(BIN)/python -c 'import skimage.data; print(skimage.data.data_dir)') && \
		cp $(GRID_PHOTOS) $(CURDIR)/$(DEFAULT_RUN)/grid-photos/
	$(HOLEFILL) evaluate --model models/default --images $(DEFAULT_RUN)/grid-photos \
		--generated-masks 1 --size 256 --baselines telea --no-lpips --grid 6 \
		--output $(DEFAULT_RUN)/grid
	$(HOLEFILL) card --model models/default --data-terms "$(DEFAULT_DATA_TERMS)" \
		--hardware "$(HARDWARE)" --evaluation 256=$(DEFAULT_RUN)/evaluation-256 \
		--evaluation 512=$(DEFAULT_RUN)/evaluation-512
	$(HOLEFILL) calibrate-uncertainty --model models/default --fit-images $(SHARED_DATA)/train \
		--fit-every 53 --images $(SHARED_DATA)/val/images --masks $(SHARED_DATA)/val/masks \
		--report $(DEFAULT_RUN)/uncertainty-calibration.md

clean:
	rm -rf $(VENV) $(RUN_VENV) $(STACK_VENV) build *.egg-info frontend/node_modules frontend/dist test-artifacts
