"""Training step time of the PConv U-Net at several widths, measured side by side in one run.

    KERAS_BACKEND=jax .venv/bin/python bench/train_step.py --widths 0.25 0.5 1.0

Each width trains on the same random batch with the full loss (VGG16 blocks 1-3 with
random weights: the cost is the same as with trained ones). Prints the median seconds per
step over the repetitions, images per second, and each width's time relative to the first.
"""

import argparse
import statistics
import time

import keras
import numpy as np

from holefill.masks.generator import MaskGenerator
from holefill.nn.config import PConvUNetConfig
from holefill.nn.losses import PConvLoss, build_vgg16_feature_extractor
from holefill.nn.models import build_pconv_unet, count_flops
from holefill.training.trainers import InpaintingTrainer


def measure(width, arguments):
    config = PConvUNetConfig(image_size=arguments.size, depth=arguments.depth, width=width)
    generator = build_pconv_unet(config)
    trainer = InpaintingTrainer(generator, PConvLoss(build_vgg16_feature_extractor()))
    trainer.compile(optimizer=keras.optimizers.Adam(2e-4), jit_compile=arguments.jit_compile)

    rng = np.random.default_rng(0)
    masks = MaskGenerator(0)
    size, batch = arguments.size, arguments.batch_size
    truth = rng.random((batch, size, size, 3), dtype=np.float32)
    mask = np.stack([masks.sample(size, size) for _ in range(batch)])
    inputs = {"image": truth * mask, "mask": mask}

    trainer.train_on_batch(inputs, truth)  # compilation
    times = []
    for _ in range(arguments.repetitions):
        started = time.perf_counter()
        for _ in range(arguments.steps):
            logs = trainer.train_on_batch(inputs, truth, return_dict=True)
        float(logs["loss"])  # waits for asynchronous backends
        times.append((time.perf_counter() - started) / arguments.steps)
    fixed = build_pconv_unet(config, input_size=size)
    return statistics.median(times), count_flops(fixed) / 1e9, generator.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--depth", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="steps per repetition")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--jit-compile", default="auto")
    arguments = parser.parse_args()

    print(
        f"backend {keras.backend.backend()}, {arguments.size} px, batch {arguments.batch_size}, "
        f"median of {arguments.repetitions} x {arguments.steps} steps"
    )
    print("| width | parameters | U-Net GFLOP/image | s/step | images/s | time vs first |")
    print("|---|---|---|---|---|---|")
    first = None
    for width in arguments.widths:
        seconds, gflop, parameters = measure(width, arguments)
        first = first or seconds
        print(
            f"| {width} | {parameters / 1e6:.2f} M | {gflop:.2f} | {seconds:.3f} | "
            f"{arguments.batch_size / seconds:.2f} | {seconds / first:.2f}x |"
        )


if __name__ == "__main__":
    main()
