"""The `holefill` command's flags. Each command's handler imports what it needs when it
runs, so `holefill --help` stays instant; the flags of `train` and `finetune` are made from
the configurations' fields (plain data, no Keras)."""

import argparse
from pathlib import Path

from holefill.card import ARCHITECTURE_NAMES, DEFAULT_ARCHITECTURE
from holefill.cli import commands
from holefill.cli.configs import COMMAND_DEFAULTS, TRAIN_MODEL_DEFAULTS
from holefill.cli.flags import add_config_flags, add_union_flags
from holefill.nn.config import ARCHITECTURE_CONFIGS

DEFAULT_OUTPUT = Path("runs")


def build_parser(command=None):
    """Every command; the flags of `train` and `finetune` only when `command` is one."""
    from holefill.inference.cost import DEFAULT_BUDGET_SECONDS, DEFAULT_MEMORY_BUDGET_GB
    from holefill.inference.strategies import STRATEGIES
    from holefill.inference.synthesis import DEFAULT_FILL, FILLS
    from holefill.inference.uncertainty import CHOICES as UNCERTAINTY_CHOICES

    parser = argparse.ArgumentParser(
        prog="holefill", description="Photo inpainting with partial convolutions."
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = subcommands.add_parser("info", help="parameters and GFLOP per image of a configuration")
    add_model_arguments(info, defaults={})
    info.set_defaults(handler=commands.run_info)

    train = subcommands.add_parser(
        "train", help="train a PConv U-Net, a UNet3+ or a context encoder (first stage)"
    )
    add_model_arguments(train, defaults=TRAIN_MODEL_DEFAULTS)
    if command == "train":
        add_training_arguments(train, "train")
        add_adversarial_arguments(train)
    train.add_argument(
        "--init-from",
        dest="initial_checkpoint",
        type=Path,
        help="start from this run's or checkpoint's generator weights (its model settings "
        "win over the flags; the optimizer starts afresh), e.g. a `holefill slim` folder",
    )
    train.set_defaults(handler=commands.run_training, stage="train")

    finetune = subcommands.add_parser(
        "finetune", help="fine-tune a trained PConv U-Net with the encoder batch norm frozen"
    )
    finetune.add_argument(
        "--from",
        dest="initial_checkpoint",
        required=True,
        type=Path,
        help="run folder or checkpoint of the first stage",
    )
    if command == "finetune":
        add_training_arguments(finetune, "finetune")
    finetune.set_defaults(handler=commands.run_training, stage="finetune")

    evaluate = subcommands.add_parser(
        "evaluate",
        help="PSNR, SSIM, LPIPS, L1 and texture ratio per hole-ratio bucket, with classical "
        "baselines",
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
        default="telea,ns,biharmonic,patchmatch",
        help="comma-separated classical methods to compare with ('' for none)",
    )
    evaluate.add_argument(
        "--fill",
        default=DEFAULT_FILL,
        choices=FILLS,
        help="what fills the holes, as `holefill predict --fill` serves it (default: synthesis)",
    )
    evaluate.add_argument(
        "--raw-network",
        action="store_true",
        help="with --fill network: score the network's fill alone, without the diffusion "
        "blend at the holes' edges that serving applies (holefill.inference.seams)",
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
    evaluate.set_defaults(handler=commands.run_evaluation)

    export = subcommands.add_parser("export", help="write model.keras, model.tflite and model.json")
    export.add_argument(
        "--from", dest="source", type=Path, required=True, help="run folder or checkpoint"
    )
    export.add_argument("--output", type=Path, required=True, help="folder to write")
    export.add_argument("--tile-size", type=int, help="LiteRT input size (default: training size)")
    export.set_defaults(handler=commands.run_export)

    slim = subcommands.add_parser(
        "slim",
        help="a run's or an exported model's generator weights alone, in float16: a "
        "checkpoint small enough to commit and to carry to a GPU machine",
    )
    slim.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        help="run folder, checkpoint or exported model",
    )
    slim.add_argument("--output", type=Path, required=True, help="checkpoints folder to write")
    slim.set_defaults(handler=commands.run_slim)

    predict = subcommands.add_parser(
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
    predict.add_argument("--strategy", default="auto", choices=STRATEGIES)
    predict.add_argument(
        "--fill",
        default=DEFAULT_FILL,
        choices=FILLS,
        help="synthesis: the network's fill refined with the photo's own texture (default); "
        "network: the network's fill alone",
    )
    predict.add_argument(
        "--model", type=Path, help="exported model folder (default: models/default)"
    )
    predict.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    predict.add_argument("--dilation", type=int, help="grow holes by this many pixels (default: 3)")
    predict.add_argument(
        "--seed", type=int, help="seed of the synthesis and the dropout draws (default: 0)"
    )
    predict.set_defaults(handler=commands.run_predict)

    fetch = subcommands.add_parser(
        "fetch-vgg", help="download the VGG16 weights the perceptual and style losses use"
    )
    fetch.add_argument("--output", type=Path, help="folder (default: ~/.cache/holefill)")
    fetch.set_defaults(handler=commands.run_fetch_vgg)

    fetch_lpips = subcommands.add_parser(
        "fetch-lpips", help="download the LPIPS network and linear heads that evaluate uses"
    )
    fetch_lpips.add_argument(
        "--network",
        default="alexnet",
        choices=("alexnet", "vgg16"),
        help="alexnet (what evaluate reports) or vgg16",
    )
    fetch_lpips.add_argument("--output", type=Path, help="folder (default: ~/.cache/holefill)")
    fetch_lpips.set_defaults(handler=commands.run_fetch_lpips)

    card = subcommands.add_parser(
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
    card.set_defaults(handler=commands.run_card)

    calibrate = subcommands.add_parser(
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
    calibrate.set_defaults(handler=commands.run_calibrate_uncertainty)

    measure_cost = subcommands.add_parser(
        "measure-cost",
        help="time a job's units of work (network passes, hole and photo megapixels) on "
        "this machine and write them, with the budget, into an exported model's card",
    )
    measure_cost.add_argument("--model", type=Path, required=True, help="exported model folder")
    measure_cost.add_argument(
        "--side",
        type=int,
        default=4096,
        help="side of the square photo timed, in pixels (a phone photo's, as served)",
    )
    measure_cost.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    measure_cost.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_SECONDS,
        help="the most seconds a job may be estimated to take here",
    )
    measure_cost.add_argument(
        "--memory-budget",
        type=float,
        default=DEFAULT_MEMORY_BUDGET_GB,
        help="the most GB of memory a job may be estimated to need (the InpaintFunction "
        "uses its own memory size instead)",
    )
    measure_cost.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    measure_cost.set_defaults(handler=commands.run_measure_cost)
    # For `--config` files, which are read against one command's flags.
    parser.command_parsers = subcommands.choices
    return parser


def add_model_arguments(parser, *, defaults):
    """`--arch` and the flags of every architecture's configuration; `defaults`
    ({architecture: {field: value}}) replace the configurations' own where the command
    wants others."""
    group = parser.add_argument_group(
        "model (unset flags keep the architecture's default: `holefill info --arch ARCH`)"
    )
    group.add_argument(
        "--arch", choices=ARCHITECTURE_NAMES, help=f"the network (default: {DEFAULT_ARCHITECTURE})"
    )
    add_union_flags(group, ARCHITECTURE_CONFIGS)
    parser.set_defaults(model_defaults=defaults)


def add_training_arguments(parser, command):
    # Imported by the commands that train: the mask generator it checks kinds with loads OpenCV.
    from holefill.training.config import TrainingConfig

    parser.add_argument(
        "--config",
        type=Path,
        action="append",
        metavar="FILE",
        help="a TOML file of these flags (`flag-name = value`, a table for TERM=VALUE flags; "
        "repeatable, later files and then the command line win), e.g. "
        "models/recipes/default.toml",
    )
    add_config_flags(parser, TrainingConfig, defaults=COMMAND_DEFAULTS[command])


def add_adversarial_arguments(parser):
    from holefill.nn.config import AdversarialConfig

    group = parser.add_argument_group("context-encoder: the adversarial loss")
    add_config_flags(group, AdversarialConfig)
