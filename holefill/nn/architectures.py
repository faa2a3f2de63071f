"""The architectures Holefill trains, exports and serves, by the name that `holefill train
--arch`, checkpoints and model cards use.

Every architecture builds a functional model `{"image", "mask"} -> image` (mask 1 = known),
so that training, evaluation, export and serving handle them alike; what differs is
gathered here: the configuration class, the builder and the training defaults.
"""

import dataclasses
import math
from collections.abc import Callable

from holefill.card import ARCHITECTURE_NAMES, DEFAULT_ARCHITECTURE
from holefill.nn.config import ARCHITECTURE_CONFIGS
from holefill.nn.context_encoder import build_context_encoder
from holefill.nn.models import build_pconv_unet, count_flops, set_encoder_batch_norm_frozen
from holefill.nn.unet3plus import build_unet3plus, build_unet3plus_for_training

RECONSTRUCTION_LOSSES = ("pconv", "blind-mae")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture and its training defaults.

    Attributes:
        name: as `--arch`, checkpoints and model cards spell it.
        config_class: its frozen configuration dataclass (a `holefill.nn.config.ModelConfig`).
        build: `build(config, *, monte_carlo=False, input_size=None)` -> the generator.
        learning_rate: the first stage's default learning rate (Adam).
        loss: the default reconstruction loss, one of `RECONSTRUCTION_LOSSES`.
        build_for_training: `build_for_training(config)` -> the network that training
            holds to the loss, where it is not the generator (UNet3+'s supervision heads).
        mask_kinds: the default `{kind: weight}` of training masks; None for
            `holefill.masks.generator.DEFAULT_MASK_KIND_PROBABILITIES`.
        freeze_for_finetune: what the fine-tuning stage applies to the generator, or None
            where the architecture has no such stage.
        adversarial: whether it trains against a discriminator (`holefill.nn.adversarial`).
    """

    name: str
    config_class: type
    build: Callable
    learning_rate: float
    loss: str
    build_for_training: Callable | None = None
    mask_kinds: dict | None = None
    freeze_for_finetune: Callable | None = None
    adversarial: bool = False


PCONV, UNET3PLUS, CONTEXT_ENCODER = ARCHITECTURE_NAMES
ARCHITECTURES = {
    architecture.name: architecture
    for architecture in (
        Architecture(
            name=PCONV,
            config_class=ARCHITECTURE_CONFIGS[PCONV],
            build=build_pconv_unet,
            learning_rate=2e-4,  # the paper's
            loss="pconv",
            freeze_for_finetune=set_encoder_batch_norm_frozen,
        ),
        Architecture(
            name=UNET3PLUS,
            config_class=ARCHITECTURE_CONFIGS[UNET3PLUS],
            build=build_unet3plus,
            build_for_training=build_unet3plus_for_training,
            learning_rate=5e-5,  # BlindPaint's
            loss="blind-mae",  # what BlindPaint trained with
        ),
        Architecture(
            name=CONTEXT_ENCODER,
            config_class=ARCHITECTURE_CONFIGS[CONTEXT_ENCODER],
            build=build_context_encoder,
            learning_rate=6e-4,  # the course project's generator Adam
            loss="blind-mae",
            # The context encoder's own centre and random blocks, and our strokes.
            mask_kinds={"centre_block": 1.0, "random_blocks": 1.0, "irregular": 1.0},
            adversarial=True,
        ),
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
    for architecture in ARCHITECTURES.values():
        if isinstance(config, architecture.config_class):
            return architecture
    raise ValueError(f"{type(config).__name__} is not the configuration of any architecture.")


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
