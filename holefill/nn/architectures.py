"""The architectures Holefill trains, exports and serves, by the name that `holefill train
--arch`, checkpoints and model cards use.

Every architecture builds a functional model `{"image", "mask"} -> image` (mask 1 = known),
so that training, evaluation, export and serving handle them alike; what differs is
gathered here: the builders, and (from `holefill.nn.config`, as plain data) the
configuration class and the training defaults.
"""

import dataclasses
import math
from collections.abc import Callable

from holefill.card import ARCHITECTURE_NAMES, DEFAULT_ARCHITECTURE
from holefill.nn.config import ARCHITECTURE_CONFIGS, TRAINING_DEFAULTS, architecture_name_of
from holefill.nn.context_encoder import build_context_encoder
from holefill.nn.models import build_pconv_unet, count_flops, set_encoder_batch_norm_frozen
from holefill.nn.unet3plus import build_unet3plus, build_unet3plus_for_training


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture: its configuration, builders and training defaults.

    Attributes:
        name: as `--arch`, checkpoints and model cards spell it.
        config_class: its frozen configuration dataclass (a `holefill.nn.config.ModelConfig`).
        build: `build(config, *, monte_carlo=False, input_size=None)` -> the generator.
        build_for_training: `build_for_training(config)` -> the network that training
            holds to the loss, where it is not the generator (UNet3+'s supervision heads).
        freeze_for_finetune: what the fine-tuning stage applies to the generator, or None
            where the architecture has no such stage.
    """

    name: str
    build: Callable
    build_for_training: Callable | None = None
    freeze_for_finetune: Callable | None = None

    @property
    def config_class(self):
        return ARCHITECTURE_CONFIGS[self.name]

    @property
    def defaults(self):
        """Its `TrainingDefaults`, which training configurations read without Keras."""
        return TRAINING_DEFAULTS[self.name]


PCONV, UNET3PLUS, CONTEXT_ENCODER = ARCHITECTURE_NAMES
ARCHITECTURES = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            name=PCONV, build=build_pconv_unet, freeze_for_finetune=set_encoder_batch_norm_frozen
        ),
        Architecture(
            name=UNET3PLUS,
            build=build_unet3plus,
            build_for_training=build_unet3plus_for_training,
        ),
        Architecture(name=CONTEXT_ENCODER, build=build_context_encoder),
    )
}


def architecture_named(name):
    """The `Architecture` called `name`; ValueError naming the known ones otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {name!r}: Holefill knows {', '.join(ARCHITECTURES)}."
        )
    return ARCHITECTURES[name]


def architecture_of(config):
    """The `Architecture` whose configuration class `config` is an instance of."""
    return ARCHITECTURES[architecture_name_of(config)]


def config_from_metadata(metadata):
    """The model configuration a checkpoint's metadata records; a checkpoint written before
    there were other architectures has no "architecture" and holds a PConv U-Net."""
    architecture = architecture_named(metadata.get("architecture", DEFAULT_ARCHITECTURE))
    return architecture.config_class.from_dict(metadata["model"])


def describe(config):
    """Parameters and GFLOP per image of a configuration, as printed by `holefill info`."""
    model = architecture_of(config).build(config, input_size=config.image_size)
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    return {
        "architecture": architecture_of(config).name,
        "config": config.to_dict(),
        "parameters": model.count_params(),
        "trainable_parameters": trainable,
        "gflop_per_image": count_flops(model) / 1e9,
    }
