"""PConv U-Net, UNet3+ and context encoder trained for the same budget, compared on the
validation set with the classical baselines; writes docs/architecture-comparison.md.

    KERAS_BACKEND=jax .venv/bin/python bench/compare_architectures.py --minutes 60
    KERAS_BACKEND=jax .venv/bin/python bench/compare_architectures.py --images 400000

`--phase train` stops after training (on a GPU machine that carries only the training
photos) and `--phase report` evaluates the runs already in `--workdir` (where the
validation set is); the default does both.

The budget is the same for every architecture: wall-clock minutes of training (each run
stops at its first checkpoint past them) or training images (steps x batch). Each trains
with its own defaults (`holefill.nn.architectures`: loss, learning rate, masks) at one size,
which is also the evaluation's crop size (the context encoder runs at that size only).

Reported: PSNR, SSIM, L1 and LPIPS per hole-ratio bucket on ../shared/data/val (the
Sun-Hays photos with the NVIDIA masks) next to cv2 Telea, cv2 Navier-Stokes and
biharmonic inpainting (`holefill.evaluation.evaluate.evaluate`); parameters and GFLOP per 512 px
image; and, over hole pixels, the Spearman correlation between the spread of Monte-Carlo
dropout draws and the error (`holefill.evaluation.evaluate.evaluate_uncertainty`).
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import keras

from holefill.evaluation.baselines import CLASSICAL_METHODS
from holefill.evaluation.evaluate import batched, evaluate, evaluate_uncertainty
from holefill.evaluation.methods import evaluation_metrics, keras_method
from holefill.evaluation.validation_sets import load_validation_set
from holefill.masks.buckets import HOLE_RATIO_BUCKETS
from holefill.nn.architectures import architecture_of, describe
from holefill.nn.checkpoints import load_checkpoint
from holefill.nn.config import ContextEncoderConfig, PConvUNetConfig, UNet3PlusConfig
from holefill.nn.models import count_flops
from holefill.training.config import PRECISIONS, TrainingConfig
from holefill.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ARCHITECTURES = ("pconv", "unet3plus", "context-encoder")
# A step count no run reaches: a wall-clock budget stops runs by time.
UNBOUNDED_STEPS = 10**9
COST_SIZE = 512


def model_configs(arguments):
    """The configuration compared for each architecture, at `--size`: of a few million
    parameters each, with dropout for Monte-Carlo uncertainty."""
    size = arguments.size
    levels = int(math.log2(size))
    return {
        "pconv": PConvUNetConfig(
            image_size=size, depth=levels - 1, width=arguments.pconv_width, dropout_rate=0.1
        ),
        "unet3plus": UNet3PlusConfig(image_size=size, depth=4, filters=arguments.unet3plus_filters),
        # A 4 x 4 bottleneck, as the context encoder's 128 px one.
        "context-encoder": ContextEncoderConfig(
            image_size=size, depth=levels - 2, filters=arguments.context_encoder_filters
        ),
    }


def gflop_per_512px_image(config):
    """`(GFLOP, note)`: one pass over a 512 px image, or, for a network of a fixed size,
    one pass at that size (what serving runs after scaling the image to it)."""
    architecture = architecture_of(config)
    try:
        config.validate_input_size(COST_SIZE)
    except ValueError:
        model = architecture.build(config)
        return count_flops(model) / 1e9, f"at its fixed {config.image_size} px"
    return count_flops(architecture.build(config, input_size=COST_SIZE)) / 1e9, ""


def train_one(name, config, arguments):
    """Trains one architecture within the budget; returns its statistics."""
    batch, every = arguments.batch_size, arguments.checkpoint_every
    if arguments.images:
        steps = math.ceil(arguments.images / batch / every) * every
    else:
        steps = UNBOUNDED_STEPS // every * every
    run_dir = arguments.workdir / name
    training = TrainingConfig(
        data_dirs=tuple(str(folder) for folder in arguments.data),
        output_dir=str(run_dir),
        vgg_weights=str(arguments.vgg_weights),
        model=config,
        batch_size=batch,
        steps=steps,
        checkpoint_every=every,
        sample_every=every,
        max_minutes=arguments.minutes,
        precision=arguments.precision,
        workers=arguments.workers,
        in_memory=True,
        seed=arguments.seed,
    )
    started = time.perf_counter()
    checkpoint = train(training)
    seconds = time.perf_counter() - started
    step, _, _ = load_checkpoint(checkpoint)
    return {
        "device": training_device(),
        "steps": step,
        "images": step * batch,
        "training_minutes": seconds / 60,
        "loss": training.resolved_loss,
        "learning_rate": training.resolved_learning_rate,
    }


def training_device():
    """What trained: the accelerator's name under JAX, else the CPU core count."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    return f"{os.cpu_count()} CPU cores"


def statistics_path(arguments, name):
    """Where a finished run's training statistics wait for the report."""
    return arguments.workdir / name / "statistics.json"


def demoted(markdown):
    """Markdown with every heading one level deeper, to sit under this report's."""
    return "\n".join(f"#{line}" if line.startswith("#") else line for line in markdown.split("\n"))


def report(arguments, summary, result, uncertainties):
    budget = (
        f"{arguments.minutes:g} minutes of training"
        if arguments.minutes
        else f"{arguments.images} training images"
    )
    lines = [
        "# Architecture comparison: PConv U-Net, UNet3+, context encoder",
        "",
        f"Budget: {budget} each, batch {arguments.batch_size}, {arguments.size} px crops of "
        f"{', '.join(str(folder) for folder in arguments.data)}; Keras backend "
        f"{keras.backend.backend()}. Evaluated at {arguments.size} px on "
        f"{result.counts['overall']} samples of {arguments.val} (photos with the NVIDIA masks"
        f", one per bucket); Monte-Carlo uncertainty from {arguments.uncertainty_draws} draws. "
        "Written by `bench/compare_architectures.py`.",
        "",
        *([arguments.note, ""] if arguments.note else []),
        "| architecture | parameters | GFLOP per 512 px image | trained on | steps | images | "
        "minutes | loss | Spearman (std, error) |",
        "|---|---:|---:|---|---:|---:|---:|---|---:|",
    ]
    for name, row in summary.items():
        spearman = uncertainties[name].spearman["overall"]
        note = f" ({row['gflop_note']})" if row["gflop_note"] else ""
        lines.append(
            f"| {name} | {row['parameters'] / 1e6:.2f} M | {row['gflop']:.1f}{note} | "
            f"{row['device']} | {row['steps']} | {row['images']} | "
            f"{row['training_minutes']:.1f} | {row['loss']} | "
            f"{spearman:.3f} |"
        )
    lines += ["", demoted(result.to_markdown())]
    for name, uncertainty in uncertainties.items():
        lines += [f"## Uncertainty of {name}", "", demoted(uncertainty.to_markdown())]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--minutes", type=float, help="wall-clock training budget per model")
    budget.add_argument("--images", type=int, help="training images per model")
    parser.add_argument("--architectures", nargs="+", default=ARCHITECTURES, choices=ARCHITECTURES)
    parser.add_argument("--data", type=Path, nargs="+", default=[SHARED_DATA / "train"])
    parser.add_argument("--val", type=Path, default=SHARED_DATA / "val")
    parser.add_argument(
        "--vgg-weights",
        type=Path,
        default=SHARED_DATA / "vgg16" / "vgg16_blocks1-3_torchvision_imagenet_hwio.npz",
        help="for the pconv loss",
    )
    parser.add_argument("--size", type=int, default=256, help="training and evaluation size")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--workers", type=int, default=1, help="data-loading threads per run")
    parser.add_argument("--pconv-width", type=float, default=0.25)
    parser.add_argument("--unet3plus-filters", type=int, default=16)
    parser.add_argument("--context-encoder-filters", type=int, default=32)
    parser.add_argument(
        "--photos", type=int, help="evaluate on the first N validation photos (default: all)"
    )
    parser.add_argument("--uncertainty-draws", type=int, default=16)
    parser.add_argument("--no-lpips", dest="lpips", action="store_false")
    parser.add_argument("--workdir", type=Path, default=ROOT / "runs" / "compare-architectures")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "architecture-comparison.md")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--phase", choices=("all", "train", "report"), default="all")
    parser.add_argument("--note", help="a paragraph for the report: how the runs shared hardware")
    arguments = parser.parse_args()

    configs = model_configs(arguments)
    if arguments.phase in ("train", "all"):
        for name in arguments.architectures:
            statistics = train_one(name, configs[name], arguments)
            statistics_path(arguments, name).write_text(json.dumps(statistics, indent=2) + "\n")
    if arguments.phase == "train":
        return

    samples = load_validation_set(
        arguments.val / "images", arguments.val / "masks", size=arguments.size
    )
    if arguments.photos:
        samples = samples[: arguments.photos * len(HOLE_RATIO_BUCKETS)]
    summary, methods, uncertainties = {}, {}, {}
    for name in arguments.architectures:
        if not statistics_path(arguments, name).is_file():
            raise SystemExit(
                f"{arguments.workdir / name} holds no finished run: train it first "
                "(--phase train, or --phase all)."
            )
        run_dir = arguments.workdir / name
        gflop, note = gflop_per_512px_image(configs[name])
        summary[name] = {
            **json.loads(statistics_path(arguments, name).read_text()),
            "parameters": describe(configs[name])["parameters"],
            "gflop": gflop,
            "gflop_note": note,
        }
        methods[name] = keras_method(run_dir, arguments.batch_size)
        uncertainties[name] = evaluate_uncertainty(
            samples,
            keras_method(run_dir, arguments.batch_size, monte_carlo=True),
            draws=arguments.uncertainty_draws,
            batch_size=arguments.batch_size,
        )
    for name in ("telea", "ns", "biharmonic"):
        methods[name] = batched(CLASSICAL_METHODS[name])
    metrics, note = evaluation_metrics(include_lpips=arguments.lpips)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    result = evaluate(samples, methods, metrics=metrics, batch_size=arguments.batch_size)

    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(report(arguments, summary, result, uncertainties) + "\n")
    arguments.output.with_suffix(".json").write_text(
        json.dumps(
            {
                "arguments": {key: str(value) for key, value in vars(arguments).items()},
                "models": {name: configs[name].to_dict() for name in summary},
                "summary": summary,
                "evaluation": result.to_dict(),
                "uncertainty": {name: value.to_dict() for name, value in uncertainties.items()},
            },
            indent=2,
        )
        + "\n"
    )
    print(arguments.output.read_text())


if __name__ == "__main__":
    main()
