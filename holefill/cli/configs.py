"""The configurations a command's flags stand for: the model's, the adversarial loss's and
the training run's, refusing flags that do not apply."""

import argparse
import dataclasses

from holefill.cli.flags import config_flags, config_values

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

# Where `train` departs from the configurations' own defaults: without model flags it trains
# a 256 px PConv U-Net of depth 7, a size a CPU can train (the paper's is 512 px, depth 8).
TRAIN_MODEL_DEFAULTS = {"pconv": {"image_size": 256, "depth": 7}}

# Where the commands depart from `TrainingConfig`'s defaults.
COMMAND_DEFAULTS = {"train": {"steps": 10000}, "finetune": {"steps": 2000}}


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
    from holefill.nn.config import AdversarialConfig

    given = config_values(arguments, AdversarialConfig)
    if given and getattr(arguments, "arch", None) != "context-encoder":
        flags = [config_flags(AdversarialConfig)[field] for field in given]
        raise ValueError(f"{', '.join(flags)} applies to --arch context-encoder only.")
    return AdversarialConfig(**given)


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


def training_config_from(arguments):
    """The `TrainingConfig` of `train` or `finetune`'s flags."""
    from holefill.masks.generator import MASK_KINDS
    from holefill.nn.config import LOSS_TERMS, LossWeights, PConvUNetConfig
    from holefill.training.config import TrainingConfig

    first_stage = arguments.stage == "train"
    return TrainingConfig(
        data_dirs=tuple(str(folder) for folder in arguments.data),
        output_dir=str(arguments.output),
        vgg_weights=str(arguments.vgg_weights or default_vgg_weights()),
        model=model_config_from(arguments) if first_stage else PConvUNetConfig(),
        stage=arguments.stage,
        initial_checkpoint=str(getattr(arguments, "initial_checkpoint", "") or "") or None,
        loss_weights=LossWeights(
            **parse_weights(arguments.loss_weight, "--loss-weight", LOSS_TERMS)
        ),
        mask_kinds=parse_weights(arguments.mask_kind, "--mask-kind", MASK_KINDS) or None,
        adversarial=adversarial_config_from(arguments),
        **config_values(arguments, TrainingConfig, defaults=COMMAND_DEFAULTS[arguments.stage]),
    )
