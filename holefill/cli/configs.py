"""The configurations a command's flags stand for: the model's, the adversarial loss's and
the training run's, refusing flags that do not apply."""

import dataclasses

from holefill.cli.flags import config_flags, config_values, union_flags
from holefill.nn.config import ARCHITECTURE_CONFIGS

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
    flags = union_flags(ARCHITECTURE_CONFIGS)
    given = {
        field: getattr(arguments, field) for field in flags if getattr(arguments, field) is not None
    }
    foreign = [flag for field, flag in flags.items() if field in given and field not in fields]
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
