"""From a training checkpoint to the artefact that serving loads.

An exported model folder holds:

    model.keras    the U-Net with its weights (the reference, any Keras backend)
    model.tflite   the same network at a fixed tile size for the LiteRT runtime, which
                   serving uses: it starts faster and needs neither TensorFlow nor Keras
    model.json     the model card: architecture, configuration, tile size, checks
"""

import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from holefill.checkpoints import load_checkpoint, resolve_checkpoint
from holefill.masks import MaskGenerator
from holefill.models import PConvUNetConfig, build_pconv_unet, count_flops

CARD_NAME = "model.json"
KERAS_NAME = "model.keras"
LITERT_NAME = "model.tflite"
CARD_FORMAT_VERSION = 1
# LiteRT and Keras use different convolution kernels; beyond this the export is refused.
LITERT_TOLERANCE = 1e-3


def load_generator(path, *, monte_carlo=False, input_size=None):
    """The U-Net of a run folder, a checkpoint folder, or an exported model folder.

    Returns `(model, card)` where `card` describes where the weights came from.
    """
    path = Path(path)
    card_path = path / CARD_NAME
    if card_path.is_file():
        card = json.loads(card_path.read_text())
        config = PConvUNetConfig.from_dict(card["config"])
        trained = keras.saving.load_model(path / KERAS_NAME, compile=False)
        weights = trained.get_weights()
    else:
        checkpoint = resolve_checkpoint(path)
        step, metadata, groups = load_checkpoint(checkpoint)
        config = PConvUNetConfig.from_dict(metadata["model"])
        card = {"checkpoint": str(checkpoint), "step": step, "stage": metadata.get("stage")}
        reference = build_pconv_unet(config)
        weights = [groups["model"][variable.path] for variable in reference.weights]
    model = build_pconv_unet(config, monte_carlo=monte_carlo, input_size=input_size)
    model.set_weights(weights)
    return model, {**card, "config": config.to_dict()}


def export_model(source, output_dir, *, tile_size=None, check_samples=4, seed=0):
    """Writes `model.keras`, `model.tflite` and `model.json` to `output_dir`.

    The LiteRT model is checked against Keras on `check_samples` random photos and masks;
    the largest absolute difference goes into the card, and the export fails above
    `LITERT_TOLERANCE`.
    """
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "Exporting to LiteRT needs the TensorFlow backend: run with KERAS_BACKEND=tensorflow "
            "(training may use any backend)."
        )
    model, source_card = load_generator(source)
    config = PConvUNetConfig.from_dict(source_card["config"])
    tile_size = tile_size or config.image_size
    if tile_size % 2**config.depth:
        raise ValueError(f"tile_size must be a multiple of {2**config.depth}, got {tile_size}.")
    fixed, _ = load_generator(source, input_size=tile_size)

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    model.save(output_dir / KERAS_NAME)
    fixed.export(str(output_dir / LITERT_NAME), format="litert", verbose=False)

    difference, litert_seconds, keras_seconds = check_litert(
        output_dir / LITERT_NAME, fixed, tile_size, check_samples, seed
    )
    if difference > LITERT_TOLERANCE:
        raise ValueError(
            f"The LiteRT model differs from Keras by {difference:.2e} (more than "
            f"{LITERT_TOLERANCE:.0e}); the export is not usable."
        )
    card = {
        "format_version": CARD_FORMAT_VERSION,
        "architecture": "pconv_unet",
        "config": config.to_dict(),
        "tile_size": tile_size,
        "dropout_rate": config.dropout_rate,
        "parameters": model.count_params(),
        "gflop_per_tile": count_flops(fixed) / 1e9,
        "mask_convention": "model input: 1 = known pixel, 0 = hole",
        "files": {"keras": KERAS_NAME, "litert": LITERT_NAME},
        "source": {key: source_card.get(key) for key in ("checkpoint", "step", "stage")},
        "export_check": {
            "samples": check_samples,
            "litert_max_abs_difference": difference,
            "litert_seconds_per_tile": litert_seconds,
            "keras_seconds_per_tile": keras_seconds,
        },
    }
    (output_dir / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n")
    return card


def check_litert(litert_path, keras_model, tile_size, samples, seed):
    """Largest |LiteRT - Keras| over random inputs, and seconds per tile of each."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(str(litert_path)).get_signature_runner()
    generator = MaskGenerator(seed)
    rng = np.random.default_rng(seed)
    difference, litert_time, keras_time = 0.0, 0.0, 0.0
    for _ in range(samples):
        image = rng.random((1, tile_size, tile_size, 3), dtype=np.float32)
        mask = generator.sample(tile_size, tile_size)[None]
        started = time.perf_counter()
        (litert_output,) = runner(image=image, mask=mask).values()
        litert_time += time.perf_counter() - started
        started = time.perf_counter()
        keras_output = keras.ops.convert_to_numpy(
            keras_model({"image": image, "mask": mask}, training=False)
        )
        keras_time += time.perf_counter() - started
        difference = max(difference, float(np.abs(litert_output - keras_output).max()))
    if not math.isfinite(difference):
        raise ValueError("The LiteRT model produced non-finite values.")
    return difference, litert_time / samples, keras_time / samples
