"""A trained generator from any folder it may be in: a run, a checkpoint, or an exported
model (whose Keras model is kept for this)."""

from pathlib import Path

import keras

from holefill.card import CARD_NAME, KERAS_NAME, read_card
from holefill.nn.architectures import architecture_named, architecture_of, config_from_metadata
from holefill.nn.checkpoints import load_checkpoint, resolve_checkpoint


def load_generator(path, *, monte_carlo=False, input_size=None):
    """The generator of a run folder, a checkpoint folder, or an exported model folder, of
    whichever architecture its checkpoint metadata or card names.

    Returns `(model, card)` where `card` describes where the weights came from, with the
    "architecture" and its "config".
    """
    path = Path(path)
    if (path / CARD_NAME).is_file():
        card = read_card(path)
        architecture = architecture_named(card["architecture"])
        config = architecture.config_class.from_dict(card["config"])
        trained = keras.saving.load_model(path / KERAS_NAME, compile=False)
        weights = trained.get_weights()
    else:
        checkpoint = resolve_checkpoint(path)
        step, metadata, groups = load_checkpoint(checkpoint)
        config = config_from_metadata(metadata)
        architecture = architecture_of(config)
        card = {"checkpoint": str(checkpoint), "step": step, "stage": metadata.get("stage")}
        reference = architecture.build(config)
        weights = [groups["model"][variable.path] for variable in reference.weights]
    model = architecture.build(config, monte_carlo=monte_carlo, input_size=input_size)
    model.set_weights(weights)
    return model, {**card, "architecture": architecture.name, "config": config.to_dict()}
