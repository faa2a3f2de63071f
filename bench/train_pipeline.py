"""Training images per second with the host loader and with the device pipeline, side by side
in one run: the same model, loss, batch size and precision.

    KERAS_BACKEND=jax .venv/bin/python bench/train_pipeline.py --data ../shared/data/train256 \
        --vgg-weights ../shared/data/vgg16/vgg16_blocks1-3_torchvision_imagenet_hwio.npz \
        --batch-size 64 --precision mixed_bfloat16 --workers 16

Each pipeline runs one warm-up epoch (compilation) and then `--steps` timed steps; where
`nvidia-smi` exists, the GPU's utilisation is sampled during the timed steps. Prints a
table with images per second, the mean and median utilisation, and the device pipeline's
speed relative to the host loader's.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

import keras

from holefill.nn.config import LossWeights, PConvUNetConfig
from holefill.training.config import TrainingConfig
from holefill.training.loop import build_sampler, host_batches
from holefill.training.trainers import PlaceholderBatches, build_trainer


class UtilisationSampler:
    """Polls `nvidia-smi` for the GPU's busy percentage while running."""

    def __init__(self, interval=0.25):
        self.interval = interval
        self.samples = []
        self.available = shutil.which("nvidia-smi") is not None

    def __enter__(self):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        if self.available:
            self.thread.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        if self.available:
            self.thread.join()

    def _poll(self):
        while not self.stop.is_set():
            query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
            output = subprocess.run(query, capture_output=True, text=True, check=False).stdout
            self.samples.extend(int(line) for line in output.split() if line.strip().isdigit())
            time.sleep(self.interval)


class TimedEpoch(keras.callbacks.Callback):
    """Wall time of the last epoch, measured after its first step finished."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.steps = None, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.started is None:
            float(logs["loss"])  # waits for the asynchronous step
            self.started = time.perf_counter()
        else:
            self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        float(logs["loss"])
        self.seconds = time.perf_counter() - self.started


def measure(pipeline, arguments, output_dir):
    config = TrainingConfig(
        data_dirs=tuple(arguments.data),
        output_dir=output_dir,
        vgg_weights=arguments.vgg_weights,
        model=PConvUNetConfig(
            image_size=arguments.size, depth=arguments.depth, width=arguments.width
        ),
        batch_size=arguments.batch_size,
        steps=arguments.steps,
        checkpoint_every=arguments.steps,
        sample_every=arguments.steps,
        loss_weights=LossWeights()
        if arguments.vgg_weights
        else LossWeights(perceptual=0, style_out=0, style_comp=0),
        precision=arguments.precision,
        workers=arguments.workers,
        in_memory=True,
        pipeline=pipeline,
        mask_bank_size=arguments.mask_bank,
    )
    keras.config.set_dtype_policy(config.precision)
    if pipeline == "device":
        sampler = build_sampler(config, arguments.size, seed=0)
        data = PlaceholderBatches(arguments.steps)
    else:
        sampler = None
        data = host_batches(config, arguments.size, seed=0)
    trainer = build_trainer(config.model, config, sampler)
    timer = TimedEpoch()
    trainer.fit(data, epochs=1, verbose=0)  # compilation and warm-up
    with UtilisationSampler() as utilisation:
        trainer.fit(data, epochs=1, verbose=0, callbacks=[timer])
    images_per_second = timer.steps * arguments.batch_size / timer.seconds
    return images_per_second, utilisation.samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", required=True, help="photo folder")
    parser.add_argument("--vgg-weights", help="VGG16 .npz for the full loss (else pixel terms)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--depth", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per pipeline")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--workers", type=int, default=1, help="host loader threads")
    parser.add_argument("--mask-bank", type=int, default=1000)
    parser.add_argument("--json", help="also write the table's numbers to this file")
    arguments = parser.parse_args()

    print(
        f"backend {keras.backend.backend()}, {arguments.size} px, width {arguments.width}, "
        f"depth {arguments.depth}, batch {arguments.batch_size}, {arguments.precision}, "
        f"loss {'full' if arguments.vgg_weights else 'pixel terms'}, "
        f"{arguments.steps} timed steps, host loader with {arguments.workers} thread(s)"
    )
    print("| pipeline | images/s | GPU busy mean | GPU busy median | vs host |")
    print("|---|---|---|---|---|")
    host_speed, results = None, {}
    with tempfile.TemporaryDirectory() as scratch:
        for pipeline in ("host", "device"):
            speed, samples = measure(pipeline, arguments, scratch)
            host_speed = host_speed or speed
            results[pipeline] = {"images_per_second": speed, "gpu_busy_percent": samples}
            busy = (
                (f"{statistics.mean(samples):.0f}%", f"{statistics.median(samples):.0f}%")
                if samples
                else ("n/a", "n/a")
            )
            relative = speed / host_speed
            print(f"| {pipeline} | {speed:.1f} | {busy[0]} | {busy[1]} | {relative:.2f}x |")
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump({"settings": vars(arguments), "results": results}, file, indent=1)


if __name__ == "__main__":
    main()
