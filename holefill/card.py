"""The model card: the JSON file that describes an exported model folder.

`export.py` writes it and `runtime.py` reads it; this module holds what both must agree on
and imports neither Keras nor LiteRT. An exported folder holds:

    model.json           this card
    model.keras          the U-Net with its weights (the reference, any Keras backend)
    model.tflite         the deterministic network at a fixed tile size, for LiteRT
    model_trunk.tflite   Monte-Carlo dropout only: everything that does not depend on the
                         dropout draw, run once per tile
    model_head.tflite    Monte-Carlo dropout only: the layers from the first dropout on,
                         with explicit keep masks as inputs, run once per sample

Card fields (format version 2):

    format_version, holefill_version, architecture ("pconv_unet"), config (the
    `PConvUNetConfig`), tile_size, dropout_rate, parameters, gflop_per_tile,
    mask_convention, files {keras, litert, litert_trunk, litert_head},
    monte_carlo (null without dropout) {
        dropout_rate,
        head_inputs {name: {"source": "trunk" | "input" | "keep", "stride": int,
                            "shared": bool}},
        crop_margin, crop_alignment, gflop_trunk, gflop_head_per_sample
    },
    source {checkpoint, step, stage}, export_check {...}
"""

import json
from pathlib import Path

CARD_NAME = "model.json"
KERAS_NAME = "model.keras"
LITERT_NAME = "model.tflite"
LITERT_TRUNK_NAME = "model_trunk.tflite"
LITERT_HEAD_NAME = "model_head.tflite"
CARD_FORMAT_VERSION = 2

# Where a Monte-Carlo head input comes from: a trunk output, one of the model's own inputs
# ("image", "mask"), or a dropout keep mask drawn by the runtime.
HEAD_INPUT_SOURCES = ("trunk", "input", "keep")


def read_card(model_dir):
    """Reads and checks the card of an exported model folder.

    Raises:
        ValueError: if the folder or its card is missing, or the card is from a newer
            Holefill than this one.
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
    return card
