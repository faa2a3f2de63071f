"""From a training checkpoint to the folder that serving loads (`holefill.card` lists it).

The Keras model is the reference: every LiteRT graph is checked against it on random
photos and masks before the card is written, and the export fails if they differ.
"""

import math
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import holefill
from holefill.card import (
    KERAS_NAME,
    LITERT_HEAD_NAME,
    LITERT_NAME,
    LITERT_TRUNK_NAME,
    CardFiles,
    ModelCard,
    MonteCarloGraphs,
    write_card,
)
from holefill.export.litert_graphs import monte_carlo_split, serving_model
from holefill.masks.generator import MaskGenerator
from holefill.nn.architectures import architecture_of
from holefill.nn.checkpoints import save_checkpoint
from holefill.nn.loading import load_generator
from holefill.nn.models import count_flops

# LiteRT and Keras use different convolution kernels, whose rounding differs in proportion
# to the outputs: beyond this times max(1, largest |output|) the export is refused.
LITERT_TOLERANCE = 1e-3


def export_model(source, output_dir, *, tile_size=None, check_samples=4, seed=0):
    """Writes the model folder that serving loads; returns its card.

    Always `model.keras`, `model.tflite` and `model.json`; with dropout also the
    Monte-Carlo trunk and head (`holefill.export.litert_graphs.monte_carlo_split`). Each LiteRT
    graph is compared with Keras on `check_samples` random photos and masks (the head with
    random keep masks); the largest absolute difference goes into the card, and the export
    fails above `LITERT_TOLERANCE`.
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Exporting to LiteRT needs the TensorFlow backend: run with KERAS_BACKEND=tensorflow "
            "(training may use any backend)."
        )
    model, origin = load_generator(source)
    config = origin.config
    tile_size = tile_size or config.image_size
    config.validate_input_size(tile_size, "tile_size")
    # The network at the tile size, for LiteRT, with the weights of the one as trained.
    fixed = architecture_of(config).build(config, input_size=tile_size)
    fixed.set_weights(model.get_weights())

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(output_dir / KERAS_NAME)
    _export_litert(serving_model(fixed), output_dir / LITERT_NAME)
    files = CardFiles()
    split = monte_carlo = None
    if config.dropout_rate:
        split = monte_carlo_split(fixed)
        _export_litert(split.trunk, output_dir / LITERT_TRUNK_NAME)
        _export_litert(split.head, output_dir / LITERT_HEAD_NAME)
        files = CardFiles(litert_trunk=LITERT_TRUNK_NAME, litert_head=LITERT_HEAD_NAME)
        monte_carlo = MonteCarloGraphs(
            dropout_rate=config.dropout_rate,
            head_inputs=split.head_inputs,
            crop_margin=split.crop_margin,
            crop_alignment=split.crop_alignment,
            gflop_trunk=split.trunk_flops / 1e9,
            gflop_head_per_sample=split.head_flops / 1e9,
        )
    card = ModelCard(
        holefill_version=holefill.__version__,
        architecture=origin.architecture,
        config=config.to_dict(),
        tile_size=tile_size,
        dropout_rate=config.dropout_rate,
        parameters=model.count_params(),
        gflop_per_tile=count_flops(fixed) / 1e9,
        files=files,
        monte_carlo=monte_carlo,
        source=origin.source,
    )
    # Imported here: training and Keras evaluation also run on machines without the
    # serving runtime (a GPU box carrying only Keras).
    from holefill.inference.runtime import LiteRTModel

    check = check_litert(LiteRTModel(output_dir, card), fixed, split, check_samples, seed)
    tolerance = LITERT_TOLERANCE * max(1.0, check["keras_max_abs_output"])
    for key in ("litert_max_abs_difference", "monte_carlo_max_abs_difference"):
        if check.get(key, 0.0) > tolerance:
            raise ValueError(
                f"The LiteRT model differs from Keras by {check[key]:.2e} ({key}; more than "
                f"{tolerance:.1e}): the export is not usable."
            )
    card = card.model_copy(update={"export_check": check})
    write_card(output_dir, card)
    return card


def export_untrained_model(config, output_dir, *, tile_size=None, check_samples=1, seed=0):
    """Exports a randomly initialised network of `config`'s architecture; returns its card.

    For tests and benchmarks of serving, which need a model folder but not a trained one:
    the cost and the code paths are those of a trained model of the same configuration.
    The card's `source.stage` says "untrained".
    """
    keras.utils.set_random_seed(seed)
    architecture = architecture_of(config)
    model = architecture.build(config)
    weights = {variable.path: keras.ops.convert_to_numpy(variable) for variable in model.weights}
    metadata = {"architecture": architecture.name, "model": config.to_dict(), "stage": "untrained"}
    with tempfile.TemporaryDirectory() as checkpoints:
        save_checkpoint(checkpoints, 0, {"model": weights}, metadata)
        return export_model(
            checkpoints, output_dir, tile_size=tile_size, check_samples=check_samples, seed=seed
        )


def check_litert(runtime, keras_model, split, samples, seed):
    """Compares the LiteRT graphs of `runtime` with Keras on random tiles.

    Returns the card's `export_check`: the sample count, the largest |LiteRT - Keras| of
    the deterministic network and, with a `split`, of the Monte-Carlo trunk and head with
    random keep masks, the largest |Keras output|, and the seconds per deterministic tile
    of each.
    """
    generator = MaskGenerator(seed)
    rng = np.random.default_rng(seed)
    tile_size = runtime.tile_size
    difference = monte_carlo_difference = largest_output = 0.0
    litert_time = keras_time = 0.0
    for _ in range(samples):
        image = rng.random((tile_size, tile_size, 3), dtype=np.float32)
        known = generator.sample(tile_size, tile_size)
        started = time.perf_counter()
        litert_output = runtime.predict(image, known)
        litert_time += time.perf_counter() - started
        inputs = {"image": (image * known)[None], "mask": known[None]}
        started = time.perf_counter()
        keras_output = keras.ops.convert_to_numpy(keras_model(inputs, training=False))[0]
        keras_time += time.perf_counter() - started
        difference = max(difference, float(np.abs(litert_output - keras_output).max()))
        largest_output = max(largest_output, float(np.abs(keras_output).max()))
        if split is not None:
            available = {**inputs, **runtime.trunk(image, known)}
            head_inputs = {}
            for name, spec in runtime.monte_carlo_spec.head_inputs.items():
                if spec.source == "keep":
                    side = tile_size // spec.stride
                    shape = (2, side, side, runtime.head_input_channels(name))
                    head_inputs[name] = runtime.keep_mask(shape, rng)
                else:
                    head_inputs[name] = np.repeat(available[name], 2, axis=0)
            keras_head = keras.ops.convert_to_numpy(split.head(head_inputs))
            monte_carlo_difference = max(
                monte_carlo_difference, float(np.abs(runtime.head(head_inputs) - keras_head).max())
            )
    check = {
        "samples": samples,
        "litert_max_abs_difference": difference,
        "keras_max_abs_output": largest_output,
        "litert_seconds_per_tile": litert_time / samples,
        "keras_seconds_per_tile": keras_time / samples,
    }
    if split is not None:
        check["monte_carlo_max_abs_difference"] = monte_carlo_difference
    if not all(math.isfinite(value) for value in check.values()):
        raise ValueError("The LiteRT model produced non-finite values.")
    return check


def _export_litert(model, path):
    model.export(str(path), format="litert", verbose=False)
