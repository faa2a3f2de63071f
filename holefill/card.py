"""The model card: the JSON file that describes an exported model folder.

`holefill.export.litert` writes it and `holefill.inference.runtime` reads it; this module
holds what both must agree on and imports neither Keras nor LiteRT. An exported folder holds:

    model.json           this card
    model.keras          the network with its weights (the reference, any Keras backend)
    model.tflite         the deterministic network at a fixed tile size, for LiteRT
    model_trunk.tflite   Monte-Carlo dropout only: everything that does not depend on the
                         dropout draw, run once per tile
    model_head.tflite    Monte-Carlo dropout only: the layers from the first dropout on,
                         with explicit keep masks as inputs, run once per sample

Every architecture exports these same graphs, with the same inputs and outputs, so serving
runs any of them; the card says which one it is.

Card fields (format version 3):

    format_version, holefill_version, architecture (one of `ARCHITECTURE_NAMES`), config
    (that architecture's configuration: `PConvUNetConfig`, `UNet3PlusConfig` or
    `ContextEncoderConfig`), tile_size, dropout_rate, parameters, gflop_per_tile,
    mask_convention, files {keras, litert, litert_trunk, litert_head},
    monte_carlo (null without dropout) {
        dropout_rate,
        head_inputs {name: {"source": "trunk" | "input" | "keep", "stride": int,
                            "shared": bool}},
        crop_margin, crop_alignment, gflop_trunk, gflop_head_per_sample
    },
    source {checkpoint, step, stage}, export_check {...}

`holefill card` adds training, evaluation and recorded (`holefill.export.provenance`).

Format 2 differs only in its architecture, always "pconv_unet": this Holefill reads it as
"pconv".
"""

import json
from pathlib import Path

CARD_NAME = "model.json"
KERAS_NAME = "model.keras"
LITERT_NAME = "model.tflite"
LITERT_TRUNK_NAME = "model_trunk.tflite"
LITERT_HEAD_NAME = "model_head.tflite"
CARD_FORMAT_VERSION = 3

# As `holefill train --arch`, checkpoints and cards name the architectures; the first is
# what a checkpoint or card from before the others holds.
ARCHITECTURE_NAMES = ("pconv", "unet3plus", "context-encoder")
DEFAULT_ARCHITECTURE = ARCHITECTURE_NAMES[0]

# Where a Monte-Carlo head input comes from: a trunk output, one of the model's own inputs
# ("image", "mask"), or a dropout keep mask drawn by the runtime.
HEAD_INPUT_SOURCES = ("trunk", "input", "keep")


def read_card(model_dir):
    """Reads and checks the card of an exported model folder.

    Returns:
        The card as a dict; a format-2 card comes with its architecture as this format
        names it ("pconv").

    Raises:
        ValueError: if the folder or its card is missing, or the card is from a newer
            Holefill than this one (a newer format or an architecture it does not know).
    """
    model_dir = Path(model_dir)
    path = model_dir / CARD_NAME
    if not model_dir.is_dir():
        raise ValueError(
            f"no model folder at {model_dir}: pass the folder that `holefill export` wrote."
        )
    if not path.is_file():
        raise ValueError(
            f"{model_dir} has no {CARD_NAME}: it is not an exported model folder "
            "(`holefill export --from RUN --output FOLDER` writes one)."
        )
    try:
        card = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    version = card.get("format_version")
    if not isinstance(version, int) or version > CARD_FORMAT_VERSION:
        raise ValueError(
            f"{path} has card format {version!r}, but this Holefill reads formats up to "
            f"{CARD_FORMAT_VERSION}: upgrade Holefill or export the model again."
        )
    if version < 3:
        card = {**card, "architecture": DEFAULT_ARCHITECTURE}
    if card.get("architecture") not in ARCHITECTURE_NAMES:
        raise ValueError(
            f"{path} holds a {card.get('architecture')!r} model, an architecture this "
            f"Holefill does not know ({', '.join(ARCHITECTURE_NAMES)}): upgrade Holefill."
        )
    return card
