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

`ModelCard` is the card's schema (format version 3): it writes and reads `model.json`.
`holefill export` writes the network's part; `holefill calibrate-uncertainty`,
`measure-cost` and `card` add their sections. A format-2 card differs only in its
architecture, always "pconv_unet": this Holefill reads it as "pconv".
"""

import json
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

CARD_NAME = "model.json"
KERAS_NAME = "model.keras"
LITERT_NAME = "model.tflite"
LITERT_TRUNK_NAME = "model_trunk.tflite"
LITERT_HEAD_NAME = "model_head.tflite"
CARD_FORMAT_VERSION = 3

# As `holefill train --arch`, checkpoints and cards name the architectures; the first is
# what a checkpoint or card from before the others holds.
ArchitectureName = Literal["pconv", "unet3plus", "context-encoder"]
ARCHITECTURE_NAMES = typing.get_args(ArchitectureName)
DEFAULT_ARCHITECTURE = ARCHITECTURE_NAMES[0]

# Where a Monte-Carlo head input comes from: a trunk output, one of the model's own inputs
# ("image", "mask"), or a dropout keep mask drawn by the runtime.
HeadInputSource = Literal["trunk", "input", "keep"]
HEAD_INPUT_SOURCES = typing.get_args(HeadInputSource)


class _Record(BaseModel):
    # A card from this format carries no field this Holefill does not know.
    model_config = ConfigDict(extra="forbid")


class CardFiles(_Record):
    """The folder's files; the Monte-Carlo graphs only for a model with dropout."""

    keras: str = KERAS_NAME
    litert: str = LITERT_NAME
    litert_trunk: str | None = None
    litert_head: str | None = None


class HeadInput(_Record):
    """Where one input of the Monte-Carlo head comes from."""

    source: HeadInputSource
    stride: int
    shared: bool


class MonteCarloGraphs(_Record):
    """How the runtime draws Monte-Carlo samples from the trunk and head graphs."""

    dropout_rate: float
    head_inputs: dict[str, HeadInput]
    crop_margin: int
    crop_alignment: int
    gflop_trunk: float
    gflop_head_per_sample: float


class CardSource(_Record):
    """The checkpoint the weights were exported from."""

    checkpoint: str | None = None
    step: int | None = None
    stage: str | None = None


class UncertaintyRecord(_Record):
    """One uncertainty method as validated (`holefill calibrate-uncertainty`)."""

    offered: bool
    why: str
    unit: str
    full_scale: float
    validation: dict[str, Any]
    seconds_per_image: float | None = None
    samples: int | None = None
    error_map: dict[str, Any] | None = None
    fitted_on: dict[str, Any] | None = None


class UncertaintySection(_Record):
    """The maps this model offers: only those that passed their bar on validation photos."""

    default: str | None = None
    methods: dict[str, UncertaintyRecord] = {}


class SynthesisRecord(_Record):
    method: str
    parameters: dict[str, Any]
    chosen_on: str


class FillSection(_Record):
    """What serving fills with, and how the synthesis's parameters were chosen."""

    default: str
    fills: list[str]
    synthesis: SynthesisRecord


class CostRates(_Record):
    """Seconds per unit of work, and the budget a job's estimate must stay within
    (`holefill.inference.cost.CostModel` estimates with them).

    Attributes:
        seconds_per_pass: one tile through the network.
        head_share: a Monte-Carlo draw's cost as a share of a pass (the head reruns, the
            trunk does not).
        seconds_per_hole_megapixel: the synthesis, per million hole pixels.
        seconds_per_region_megapixel: per million pixels of the plan's regions.
        seconds_per_megapixel: decoding, copying and encoding, per million pixels.
        base_gb: the resident process with the model loaded.
        gb_per_megapixel: peak memory per million pixels of the photo.
        gb_per_region_megapixel: peak memory per million pixels of the largest region.
        gb_per_hole_megapixel: peak memory per million hole pixels of the region with the
            most, under the synthesis.
        gb_per_monte_carlo_megapixel: peak memory that a Monte-Carlo map adds per
            million pixels of the photo.
        budget_seconds: the most a job may be estimated to take.
        memory_budget_gb: the most memory a job may be estimated to need.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seconds_per_pass: float
    head_share: float
    seconds_per_hole_megapixel: float
    seconds_per_region_megapixel: float
    seconds_per_megapixel: float
    base_gb: float
    gb_per_megapixel: float
    gb_per_region_megapixel: float
    gb_per_hole_megapixel: float
    gb_per_monte_carlo_megapixel: float
    budget_seconds: float
    memory_budget_gb: float


class CostSection(CostRates):
    """The rates as `holefill measure-cost` measured them, and where."""

    measured_on: str
    photo_side: int


class ModelCard(_Record):
    """The card of an exported model folder.

    Attributes:
        config: the architecture's configuration (`PConvUNetConfig`, `UNet3PlusConfig` or
            `ContextEncoderConfig`), as its `to_dict` writes it.
        tile_size: the side of the square tile that `model.tflite` takes.
        monte_carlo: None without dropout.
        export_check: the largest differences of each graph from Keras at export, and the
            seconds per tile of each.
        training, evaluation: what `holefill card` records (`holefill.export.provenance`):
            the training stages and data, and the `holefill evaluate` reports by crop size.
    """

    format_version: int = CARD_FORMAT_VERSION
    holefill_version: str
    architecture: ArchitectureName
    config: dict[str, Any]
    tile_size: int
    dropout_rate: float
    parameters: int
    gflop_per_tile: float
    mask_convention: str = "model input: 1 = known pixel, 0 = hole"
    files: CardFiles = CardFiles()
    monte_carlo: MonteCarloGraphs | None = None
    source: CardSource = CardSource()
    export_check: dict[str, int | float] = {}
    training: dict[str, Any] | None = None
    evaluation: dict[str, dict[str, Any]] | None = None
    recorded: str | None = None
    uncertainty: UncertaintySection = UncertaintySection()
    fill: FillSection | None = None
    cost: CostSection | None = None


def write_card(model_dir, card):
    """Writes `card` (a `ModelCard`) as the folder's `model.json`; what it does not have
    (None) is left out."""
    path = Path(model_dir) / CARD_NAME
    path.write_text(json.dumps(card.model_dump(mode="json", exclude_none=True), indent=2) + "\n")


def read_card(model_dir):
    """Reads and checks the card of an exported model folder.

    Returns:
        The `ModelCard`; a format-2 card comes with its architecture as this format names
        it ("pconv").

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
    try:
        return ModelCard.model_validate(card)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in error.errors()
        )
        raise ValueError(f"{path} is not a model card this Holefill reads: {problems}") from error
