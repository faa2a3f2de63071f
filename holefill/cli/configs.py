"""The configurations a command's flags (and its `--config` files) stand for: the model's,
the adversarial loss's and the training run's, each checked by `validated`, refusing flags
that do not apply."""

from holefill.card import DEFAULT_ARCHITECTURE
from holefill.cli.flags import config_flags, config_values, union_flags, validated
from holefill.nn.config import ARCHITECTURE_CONFIGS

# Where `train` departs from the configurations' own defaults: without model flags it trains
# a 256 px PConv U-Net of depth 7, a size a CPU can train (the paper's is 512 px, depth 8).
TRAIN_MODEL_DEFAULTS = {"pconv": {"image_size": 256, "depth": 7}}

# Where the commands depart from `TrainingConfig`'s defaults.
COMMAND_DEFAULTS = {"train": {"steps": 10000}, "finetune": {"steps": 2000}}


def architecture_name(arguments):
    return getattr(arguments, "arch", None) or DEFAULT_ARCHITECTURE


def model_config_from(arguments):
    """The configuration of `--arch` from the model flags given, refusing flags that do not
    apply to it."""
    from holefill.nn.architectures import architecture_named

    architecture = architecture_named(architecture_name(arguments))
    flags = union_flags(ARCHITECTURE_CONFIGS)
    given = {field: getattr(arguments, field) for field in flags}
    given = {field: value for field, value in given.items() if value is not None}
    foreign = [
        flags[field] for field in given if field not in config_flags(architecture.config_class)
    ]
    if foreign:
        raise ValueError(f"{', '.join(foreign)} does not apply to --arch {architecture.name}.")
    defaults = arguments.model_defaults.get(architecture.name, {})
    return validated(architecture.config_class, {**defaults, **given}, flags)


def adversarial_config_from(arguments):
    """The `AdversarialConfig` of the adversarial flags given (context-encoder only)."""
    from holefill.nn.config import AdversarialConfig

    flags = config_flags(AdversarialConfig)
    given = config_values(arguments, AdversarialConfig)
    if given and architecture_name(arguments) != "context-encoder":
        raise ValueError(
            f"{', '.join(flags[field] for field in given)} applies to --arch context-encoder only."
        )
    return validated(AdversarialConfig, given, flags)


def default_vgg_weights():
    from holefill.nn.pretrained import default_cache_dir

    return default_cache_dir() / "vgg16_blocks1-3.npz"


def training_config_from(arguments):
    """The `TrainingConfig` of `train` or `finetune`'s flags and `--config` files."""
    from holefill.nn.config import PConvUNetConfig
    from holefill.training.config import TrainingConfig

    first_stage = arguments.stage == "train"
    checkpoint = getattr(arguments, "initial_checkpoint", None)
    values = {
        "vgg_weights": str(default_vgg_weights()),
        **config_values(arguments, TrainingConfig, defaults=COMMAND_DEFAULTS[arguments.stage]),
        "model": model_config_from(arguments) if first_stage else PConvUNetConfig(),
        "stage": arguments.stage,
        "initial_checkpoint": str(checkpoint) if checkpoint else None,
        "adversarial": adversarial_config_from(arguments),
    }
    return validated(TrainingConfig, values, config_flags(TrainingConfig))
