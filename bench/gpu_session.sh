#!/usr/bin/env bash
# One device call for the default model v2: the side-by-side benchmark of the host loader and
# the device pipeline, then about seven minutes of training with the paper's whole loss on
# strokes and object-shaped holes, started from the last session's weights when there are any.
#
#   bench/gpu_session.sh prepare        here: wheels into .whl/, photos and VGG16 into .data/,
#                                       models/default out of the tree (it does not fit)
#   device run, carry [".whl", ".data"], timeout_s 590:  bench/gpu_session.sh run
#   bench/gpu_session.sh collect DIR    here: DIR (the call's files_at) becomes
#                                       models/v2-run/, to commit; models/default comes back
#
# The run's settings are variables (WIDTH, DEPTH, BATCH, LEARNING_RATE, MINUTES, ...), so the
# same script smoke-tests on a CPU: OUT=/tmp/out SIZE=64 DEPTH=5 WIDTH=0.125 BATCH=2 ...
set -euo pipefail
cd "$(dirname "$0")/.."

WIDTH=${WIDTH:-0.5}
DEPTH=${DEPTH:-8}
SIZE=${SIZE:-256}
BATCH=${BATCH:-64}
LEARNING_RATE=${LEARNING_RATE:-4e-4}
MINUTES=${MINUTES:-6.5}
BENCH_STEPS=${BENCH_STEPS:-30}
MASK_BANK=${MASK_BANK:-8000}
DATA=${DATA:-.data/train256}
VGG=${VGG:-.data/vgg16/vgg16_blocks1-3_torchvision_imagenet_hwio.npz}
START=models/v2-run
WHEELS="keras==3.15.1 namex==0.1.0 optree==0.19.0 tensorboardX==2.6.4"

prepare() {
	rm -rf .whl && mkdir -p .whl .data
	python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 -d .whl $WHEELS
	cp -r ../shared/data/train256 ../shared/data/vgg16 .data/
	rm -rf models/default
	du -sh .whl .data
}

run() {
	# The device machine has JAX but not Keras; a machine that has Keras keeps its own.
	python3 -c "import keras" 2>/dev/null || python3 -m pip install -q --no-index --no-deps \
		--no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
	export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
	# JAX would take 75% of the GPU at start; let it grow instead, for the benchmark's two models.
	export XLA_PYTHON_CLIENT_PREALLOCATE=false
	local out=${OUT:?OUT names the folder whose files come back}
	# At most 8 files come back: the weights' index and shards, the benchmark's numbers and
	# log, the training log and the last sample grid.
	nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/pipeline.log" 2>&1 || true
	python3 bench/train_pipeline.py --data "$DATA" --vgg-weights "$VGG" --size "$SIZE" \
		--width "$WIDTH" --depth "$DEPTH" --batch-size "$BATCH" --precision mixed_bfloat16 \
		--workers "$(nproc)" --steps "$BENCH_STEPS" --mask-bank 1000 --json "$out/pipeline.json" \
		2>&1 | tee -a "$out/pipeline.log" | grep -v '^W0000\|^I0000'

	# A checkpoint about every minute at the measured speed.
	local every
	every=$(python3 -c "import json; r = json.load(open('$out/pipeline.json'))['results']; \
print(max(1, round(r['device']['images_per_second'] * 60 / $BATCH)))")
	local start=()
	[ -f "$START/checkpoints/latest" ] && start=(--init-from "$START")
	python3 -m holefill.cli train --data "$DATA" --vgg-weights "$VGG" --output /tmp/v2 \
		"${start[@]}" --width "$WIDTH" --depth "$DEPTH" --image-size "$SIZE" --dropout 0.1 \
		--dropout-layers 1 --pipeline device --mask-bank "$MASK_BANK" --precision mixed_bfloat16 \
		--batch-size "$BATCH" --learning-rate "$LEARNING_RATE" \
		--mask-kind irregular=0.4 --mask-kind brush=0.3 --mask-kind region=0.2 \
		--mask-kind random_blocks=0.1 --steps $((every * 1000)) --checkpoint-every "$every" \
		--sample-every "$every" --max-minutes "$MINUTES" 2>&1 | grep -v '^W0000\|^I0000' \
		| tee "$out/train.log"

	python3 -m holefill.cli slim --from /tmp/v2 --output /tmp/slim/checkpoints
	cp /tmp/slim/checkpoints/step-*/* "$out/"
	cp "$(find /tmp/v2/samples -name '*.png' | sort | tail -n 1)" "$out/sample.png"
}

collect() {
	local files=${1:?pass the files_at folder of the call}
	local step
	step=$(python3 -c "import json; print(json.load(open('$files/index.json'))['step'])")
	# Steps continue across sessions: this run's count adds to the last one's.
	if [ -f "$START/checkpoints/latest" ]; then
		step=$((step + $(python3 -c "import json; print(json.load(open('$START/run.json'))['steps'])")))
	fi
	local name
	name=step-$(printf %08d "$step")
	# One checkpoint (the newest weights); every session's logs stay.
	rm -rf "$START/checkpoints" && mkdir -p "$START/checkpoints/$name" "$START/sessions"
	cp "$files"/index.json "$files"/shard-*.npz "$START/checkpoints/$name/"
	printf '%s' "$name" >"$START/checkpoints/latest"
	printf '{"steps": %d}\n' "$step" >"$START/run.json"
	for log in pipeline.json pipeline.log train.log sample.png; do
		cp "$files/$log" "$START/sessions/$name-$log"
	done
	git checkout -- models/default
}

"${1:?prepare, run or collect}" "${@:2}"
