"""PartialConv2D against a naive numpy loop that follows the paper's formula literally."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from holefill.nn.layers import ConcatenateWithMasks, PartialConv2D

pytestmark = pytest.mark.keras_backend


def same_padding(length, kernel, stride, dilation):
    output_length = math.ceil(length / stride)
    effective_kernel = (kernel - 1) * dilation + 1
    total = max((output_length - 1) * stride + effective_kernel - length, 0)
    return total // 2, total - total // 2


def reference_partial_conv(features, mask, kernel, bias, stride, dilation, padding):
    """One output pixel at a time: sum(M), then W^T (X * M) * window / sum(M) + b, or 0."""
    batch, height, width, channels = features.shape
    kernel_height, kernel_width, _, filters = kernel.shape
    mask_channels_counted = mask.shape[-1]
    mask = np.broadcast_to(mask, features.shape)
    if padding == "same":
        top, bottom = same_padding(height, kernel_height, stride, dilation)
        left, right = same_padding(width, kernel_width, stride, dilation)
    else:
        top = bottom = left = right = 0
    pad = ((0, 0), (top, bottom), (left, right), (0, 0))
    features = np.pad(features, pad)
    mask = np.pad(mask, pad)
    span_height = (kernel_height - 1) * dilation + 1
    span_width = (kernel_width - 1) * dilation + 1
    out_height = (features.shape[1] - span_height) // stride + 1
    out_width = (features.shape[2] - span_width) // stride + 1
    output = np.zeros((batch, out_height, out_width, filters), np.float64)
    new_mask = np.zeros((batch, out_height, out_width, 1), np.float64)
    window = kernel_height * kernel_width * mask_channels_counted
    for b in range(batch):
        for i in range(out_height):
            for j in range(out_width):
                rows = slice(i * stride, i * stride + span_height, dilation)
                cols = slice(j * stride, j * stride + span_width, dilation)
                patch = features[b, rows, cols, :]
                patch_mask = mask[b, rows, cols, :]
                mask_sum = patch_mask.sum() / (channels / mask_channels_counted)
                if mask_sum > 0:
                    raw = np.einsum("hwc,hwcf->f", patch * patch_mask, kernel)
                    output[b, i, j] = raw * window / mask_sum + bias
                    new_mask[b, i, j] = 1.0
    return output, new_mask


def random_case(rng, height, width, channels, mask_channels, hole_fraction=0.4):
    features = rng.normal(size=(2, height, width, channels)).astype("float32")
    mask = (rng.random((2, height, width, mask_channels)) > hole_fraction).astype("float32")
    mask[0, : height * 3 // 4, : width * 3 // 4] = 0.0  # large enough for all-hole windows
    return features, mask


def run_layer(layer, features, mask):
    outputs, new_mask = layer([features, mask])
    return ops.convert_to_numpy(outputs), ops.convert_to_numpy(new_mask)


CASES = [
    # (height, width, channels, mask_channels, kernel, stride, dilation, padding)
    (7, 9, 3, 1, (3, 3), 1, 1, "same"),
    (7, 9, 3, 3, (3, 3), 1, 1, "same"),
    (9, 11, 4, 1, (5, 5), 2, 1, "same"),
    (9, 11, 4, 4, (5, 3), 2, 1, "same"),
    (8, 8, 2, 1, (7, 7), 2, 1, "same"),
    (10, 13, 3, 3, (3, 3), 1, 2, "same"),
    (9, 9, 3, 1, (3, 3), 2, 1, "valid"),
]


@pytest.mark.parametrize(
    "height,width,channels,mask_channels,kernel,stride,dilation,padding", CASES
)
def test_matches_reference(
    height, width, channels, mask_channels, kernel, stride, dilation, padding
):
    rng = np.random.default_rng(0)
    features, mask = random_case(rng, height, width, channels, mask_channels)
    layer = PartialConv2D(
        5,
        kernel,
        strides=stride,
        dilation_rate=dilation,
        padding=padding,
        bias_initializer=keras.initializers.RandomNormal(seed=1),
    )
    outputs, new_mask = run_layer(layer, features, mask)
    expected, expected_mask = reference_partial_conv(
        features,
        mask,
        ops.convert_to_numpy(layer.kernel),
        ops.convert_to_numpy(layer.bias),
        stride,
        dilation,
        padding,
    )
    assert outputs.shape == expected.shape
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=1e-5)
    np.testing.assert_array_equal(new_mask, expected_mask)
    assert (expected_mask == 0).any(), "the case must contain all-hole windows"


def test_all_hole_outputs_exact_zero_bias_included():
    features = np.random.default_rng(1).normal(size=(1, 6, 6, 3)).astype("float32")
    layer = PartialConv2D(4, 3, bias_initializer="ones")
    outputs, new_mask = run_layer(layer, features, np.zeros((1, 6, 6, 1), "float32"))
    assert np.all(outputs == 0.0)
    assert np.all(new_mask == 0.0)


def test_no_hole_interior_is_a_plain_convolution():
    features = np.random.default_rng(2).normal(size=(1, 8, 8, 3)).astype("float32")
    layer = PartialConv2D(4, 3)
    outputs, new_mask = run_layer(layer, features, np.ones((1, 8, 8, 1), "float32"))
    plain = ops.convert_to_numpy(ops.conv(features, layer.kernel, padding="same")) + (
        ops.convert_to_numpy(layer.bias)
    )
    np.testing.assert_allclose(outputs[:, 1:-1, 1:-1], plain[:, 1:-1, 1:-1], atol=1e-5)
    # The zero padding counts as hole: a corner window sees 4 of 9 pixels.
    corner_raw = plain[0, 0, 0] - ops.convert_to_numpy(layer.bias)
    np.testing.assert_allclose(
        outputs[0, 0, 0], corner_raw * 9 / 4 + ops.convert_to_numpy(layer.bias), atol=1e-5
    )
    assert np.all(new_mask == 1.0)


def test_shared_and_per_channel_masks_agree_when_channels_are_equal():
    rng = np.random.default_rng(3)
    features, mask = random_case(rng, 8, 8, 3, 1)
    layer = PartialConv2D(4, 3)
    shared, shared_mask = run_layer(layer, features, mask)
    per_channel, per_channel_mask = run_layer(layer, features, np.repeat(mask, 3, axis=-1))
    np.testing.assert_allclose(shared, per_channel, atol=1e-5)
    np.testing.assert_array_equal(shared_mask, per_channel_mask)


def test_wrong_mask_channels_is_a_clear_error():
    layer = PartialConv2D(4, 3)
    with pytest.raises(ValueError, match="1 channel"):
        layer([np.zeros((1, 4, 4, 3), "float32"), np.zeros((1, 4, 4, 2), "float32")])


def test_gradient_matches_finite_differences():
    """The output is linear in the kernel, so a central difference is exact up to rounding."""
    rng = np.random.default_rng(4)
    features, mask = random_case(rng, 6, 7, 2, 1)
    cotangent = rng.normal(size=(2, 3, 4, 3))
    layer = PartialConv2D(3, 3, strides=2)
    layer.build([features.shape, mask.shape])
    kernel = ops.convert_to_numpy(layer.kernel).astype(np.float64)
    bias = ops.convert_to_numpy(layer.bias)

    def objective(kernel_values):
        output, _ = reference_partial_conv(features, mask, kernel_values, bias, 2, 1, "same")
        return float((output * cotangent).sum())

    gradient = backend_gradient(layer, features, mask, cotangent.astype("float32"))
    numeric = np.zeros_like(kernel)
    step = 1e-3
    for index in np.ndindex(kernel.shape):
        plus, minus = kernel.copy(), kernel.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (objective(plus) - objective(minus)) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-3, rtol=1e-3)


def backend_gradient(layer, features, mask, cotangent):
    """d sum(output * cotangent) / d kernel with the active backend's autodiff."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def objective(kernel):
            output, _ = layer.stateless_call([kernel, layer.bias], [], [features, mask])[0]
            return (output * cotangent).sum()

        return np.asarray(jax.grad(objective)(layer.kernel.value))
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            output, _ = layer([features, mask])
            objective = tf.reduce_sum(output * cotangent)
        return tape.gradient(objective, layer.kernel.value).numpy()
    if backend == "torch":
        import torch

        output, _ = layer([features, mask])
        (output * torch.as_tensor(cotangent)).sum().backward()
        return layer.kernel.value.grad.cpu().numpy()
    pytest.skip(f"no gradient helper for the {backend} backend")


def test_save_and_load_round_trip(tmp_path):
    features_input = keras.Input((8, 8, 3))
    mask_input = keras.Input((8, 8, 1))
    outputs, new_mask = PartialConv2D(4, 3, strides=2, name="pconv")([features_input, mask_input])
    joined = ConcatenateWithMasks()([(outputs, new_mask), (outputs, new_mask)])
    model = keras.Model([features_input, mask_input], list(joined))
    features, mask = random_case(np.random.default_rng(5), 8, 8, 3, 1)
    path = tmp_path / "pconv.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    for before, after in zip(
        model.predict([features, mask], verbose=0),
        restored.predict([features, mask], verbose=0),
        strict=True,
    ):
        np.testing.assert_array_equal(before, after)
    assert restored.get_layer("pconv").get_config() == model.get_layer("pconv").get_config()


@pytest.mark.parametrize("policy,tolerance", [("mixed_float16", 2e-2), ("mixed_bfloat16", 1e-1)])
def test_mixed_precision_policies(policy, tolerance):
    rng = np.random.default_rng(6)
    features, mask = random_case(rng, 9, 9, 3, 1)
    full = PartialConv2D(4, 3, strides=2)
    expected, expected_mask = run_layer(full, features, mask)
    mixed = PartialConv2D(4, 3, strides=2, dtype=policy)
    mixed.build([features.shape, mask.shape])
    mixed.set_weights(full.get_weights())
    outputs, new_mask = mixed([features, mask])
    assert keras.backend.standardize_dtype(outputs.dtype) == policy.removeprefix("mixed_")
    assert keras.backend.standardize_dtype(new_mask.dtype) == "float32"
    outputs = ops.convert_to_numpy(ops.cast(outputs, "float32"))
    np.testing.assert_allclose(outputs, expected, atol=tolerance * np.abs(expected).max())
    np.testing.assert_array_equal(ops.convert_to_numpy(new_mask), expected_mask)
