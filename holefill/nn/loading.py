"""A trained generator from any folder it may be in: a run, a checkpoint, or an exported
model (whose Keras model is kept for this)."""

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np

from holefill.card import CARD_NAME, KERAS_NAME, CardSource, read_card
from holefill.nn.architectures import architecture_named, architecture_of, config_from_metadata
from holefill.nn.checkpoints import load_checkpoint, resolve_checkpoint, save_checkpoint


@dataclasses.dataclass(frozen=True)
class Origin:
    """What a loaded generator is and where its weights came from.

    Attributes:
        config: its architecture's configuration (`PConvUNetConfig`, ...).
        source: the checkpoint of the weights.
    """

    config: Any
    source: CardSource

    @property
    def architecture(self):
        """The architecture's name, as cards and `holefill train --arch` give it."""
        return architecture_of(self.config).name


def load_generator(path, *, monte_carlo=False, input_size=None):
    """The generator of a run folder, a checkpoint folder, or an exported model folder, of
    whichever architecture its checkpoint metadata or card names; returns `(model, Origin)`.

    The network is built once: as trained, or with `monte_carlo` dropout or a fixed
    `input_size`.
    """
    path = Path(path)
    if (path / CARD_NAME).is_file():
        card = read_card(path)
        config = architecture_named(card.architecture).config_class.from_dict(card.config)
        source = card.source
        trained = keras.saving.load_model(path / KERAS_NAME, compile=False)
        weights = trained.get_weights()
    else:
        checkpoint = resolve_checkpoint(path)
        step, metadata, groups = load_checkpoint(checkpoint)
        config = config_from_metadata(metadata)
        source = CardSource(checkpoint=str(checkpoint), step=step, stage=metadata.get("stage"))
        # The checkpoint names its weights by the variable paths of the network as trained.
        trained = architecture_of(config).build(config)
        weights = [groups["model"][variable.path] for variable in trained.weights]
        trained.set_weights(weights)
    if monte_carlo or input_size is not None:
        trained = architecture_of(config).build(
            config, monte_carlo=monte_carlo, input_size=input_size
        )
        trained.set_weights(weights)
    return trained, Origin(config, source)


def save_weights_only(source, directory, *, dtype="float16"):
    """Writes the generator weights of `source` (a run, a checkpoint or an exported model)
    alone, cast to `dtype`, as a checkpoint under `directory`: small enough to commit and
    to carry to a GPU machine, and a start for `holefill train --init-from` or `finetune
    --from` (the optimizer then starts afresh). Returns its folder."""
    source = Path(source)
    if (source / CARD_NAME).is_file():
        exported, origin = load_generator(source)
        # Named by the variable paths of the network as built for training, which is what
        # training restores by; the saved Keras model's own paths may differ.
        network = architecture_of(origin.config).build(origin.config)
        network.set_weights(exported.get_weights())
        weights = {variable.path: variable.numpy() for variable in network.weights}
        step = origin.source.step or 0
        training = read_card(source).training or {}
        metadata = {
            "architecture": origin.architecture,
            "model": origin.config.to_dict(),
            "stage": origin.source.stage,
            "exported_from": str(source),
            # The card's record of the runs behind it, for the card of what starts from here.
            "stages_before": training.get("stages", []),
        }
    else:
        step, metadata, groups = load_checkpoint(resolve_checkpoint(source))
        if "model" not in groups:
            raise ValueError(f"{source} holds no generator weights (no 'model' group).")
        weights = groups["model"]
    weights = {name: np.asarray(array).astype(dtype) for name, array in weights.items()}
    return save_checkpoint(directory, step, {"model": weights}, metadata, keep=1)
