"""The serving graphs against the Keras model they are rebuilt from, on any backend."""

import keras
import numpy as np
import pytest

from holefill.export.litert_graphs import monte_carlo_split, serving_model
from holefill.masks.generator import MaskGenerator
from holefill.nn.config import PConvUNetConfig
from holefill.nn.models import build_pconv_unet, count_flops

pytestmark = pytest.mark.keras_backend

SIZE = 32
# Two dropout layers: a head of several layers at two strides, the harder case.
CONFIG = PConvUNetConfig(image_size=SIZE, depth=3, width=0.125, dropout_rate=0.2, dropout_layers=2)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return build_pconv_unet(CONFIG, input_size=SIZE)


@pytest.fixture(scope="module")
def split(model):
    return monte_carlo_split(model)


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    image = rng.random((1, SIZE, SIZE, 3), dtype=np.float32)
    known = MaskGenerator(0).sample(SIZE, SIZE, hole_ratio=(0.2, 0.3))[None]
    return {"image": image * known, "mask": known}


def run(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs))


def head_inputs(split, inputs, keep_masks):
    """The head's inputs: trunk outputs and model inputs, repeated to the keep masks' batch
    unless shared, and the keep masks."""
    samples = len(next(iter(keep_masks.values())))
    trunk = {name: keras.ops.convert_to_numpy(value) for name, value in split.trunk(inputs).items()}
    values = {**inputs, **trunk}
    return {
        name: keep_masks[name]
        if spec["source"] == "keep"
        else values[name]
        if spec["shared"]
        else np.repeat(values[name], samples, axis=0)
        for name, spec in split.head_inputs.items()
    }


def keep_mask_shapes(split, samples):
    shapes = {}
    for name, spec in split.head_inputs.items():
        if spec["source"] == "keep":
            side = SIZE // spec["stride"]
            shapes[name] = (samples, side, side, split.head.get_layer(name).output.shape[-1])
    return shapes


def random_keep_masks(split, samples, rng, rate=CONFIG.dropout_rate):
    """Keep masks as the runtime draws them: Bernoulli(1 - rate) / (1 - rate)."""
    return {
        name: ((rng.random(shape) >= rate) / (1 - rate)).astype(np.float32)
        for name, shape in keep_mask_shapes(split, samples).items()
    }


def test_serving_model_is_the_same_network(model, inputs):
    np.testing.assert_allclose(run(serving_model(model), inputs), run(model, inputs), atol=1e-4)


@pytest.mark.parametrize("dropout_layers", [1, 2, 3])
def test_head_with_keep_masks_of_ones_is_the_model(dropout_layers, inputs):
    keras.utils.set_random_seed(4)
    config = PConvUNetConfig(**{**CONFIG.to_dict(), "dropout_layers": dropout_layers})
    model = build_pconv_unet(config, input_size=SIZE)
    split = monte_carlo_split(model)
    keeps = [name for name, spec in split.head_inputs.items() if spec["source"] == "keep"]
    assert len(keeps) == dropout_layers
    ones = {name: np.ones(shape, np.float32) for name, shape in keep_mask_shapes(split, 1).items()}
    output = run(split.head, head_inputs(split, inputs, ones))
    np.testing.assert_allclose(output, run(model, inputs), atol=1e-4)


def test_split_description(model, split):
    specs = split.head_inputs
    assert {spec["source"] for spec in specs.values()} == {"trunk", "input", "keep"}
    keeps = [name for name, spec in specs.items() if spec["source"] == "keep"]
    assert keeps == ["decoder_dropout_2_keep", "decoder_dropout_1_keep"]
    assert specs["decoder_dropout_2_keep"]["stride"] == 2
    assert specs["mask"]["shared"] and not specs["image"]["shared"]
    assert split.crop_alignment == 2 and split.crop_margin == 4
    assert split.trunk_flops + split.head_flops == count_flops(model)
    assert 0 < split.head_flops < split.trunk_flops


def test_head_samples_have_the_statistics_of_monte_carlo_dropout(model, split, inputs):
    samples = 256
    reference = build_pconv_unet(CONFIG, monte_carlo=True, input_size=SIZE)
    reference.set_weights(model.get_weights())
    batch = {name: np.repeat(value, samples, axis=0) for name, value in inputs.items()}
    expected = run(reference, batch)
    keep_masks = random_keep_masks(split, samples, np.random.default_rng(2))
    drawn = run(split.head, head_inputs(split, inputs, keep_masks))
    spread = expected.std(axis=0)
    varying = spread > 1e-3
    assert varying.mean() > 0.5, "dropout must change most outputs"
    # Means differ by about spread * sqrt(2 / samples) = 0.09 spread.
    mean_error = np.abs(drawn.mean(axis=0) - expected.mean(axis=0))[varying]
    assert mean_error.mean() < 0.2 * spread[varying].mean()
    ratio = np.median(drawn.std(axis=0)[varying] / spread[varying])
    assert 0.9 < ratio < 1.1


def test_head_on_a_crop_around_the_holes_matches_the_whole_tile(split, inputs):
    known = np.ones((1, SIZE, SIZE, 1), np.float32)
    known[:, 13:17, 9:12] = 0.0
    tile = {"image": inputs["image"] * known, "mask": known}
    keep_masks = random_keep_masks(split, 1, np.random.default_rng(3))
    whole = head_inputs(split, tile, keep_masks)
    full_output = run(split.head, whole)
    margin = split.crop_margin
    rows, columns = slice(12 - margin, 18 + margin), slice(8 - margin, 12 + margin)
    cropped = {
        name: value[
            :,
            rows.start // spec["stride"] : rows.stop // spec["stride"],
            columns.start // spec["stride"] : columns.stop // spec["stride"],
        ]
        for (name, value), spec in zip(whole.items(), split.head_inputs.values(), strict=True)
    }
    crop_output = run(split.head, cropped)
    holes = known[0, rows, columns, 0] == 0
    np.testing.assert_allclose(
        crop_output[0][holes], full_output[0, rows, columns][holes], rtol=1e-5, atol=1e-5
    )


def test_splitting_needs_dropout():
    plain = build_pconv_unet(
        PConvUNetConfig(image_size=SIZE, depth=3, width=0.125), input_size=SIZE
    )
    with pytest.raises(ValueError, match="no dropout layer"):
        monte_carlo_split(plain)
    with pytest.raises(ValueError, match="fixed input size"):
        serving_model(build_pconv_unet(CONFIG))
