"""Each loss term on cases small enough to compute by hand."""

import keras
import numpy as np
import pytest
from keras import ops

from holefill.evaluation.metrics import composite, ssim
from holefill.nn.config import LossWeights
from holefill.nn.losses import (
    IMAGENET_MEAN,
    PConvLoss,
    build_vgg16_feature_extractor,
    gram_matrix,
    structural_similarity,
    total_variation_in_dilated_hole,
)

pytestmark = pytest.mark.keras_backend


def image(rows):
    return np.asarray(rows, "float32")[None, :, :, None]


def identity_features(images):
    return [images]


def scalar(value):
    return float(ops.convert_to_numpy(value))


@pytest.fixture
def hand_case():
    """Truth 0, output 1..4, only the top-left pixel known."""
    ground_truth = image([[0, 0], [0, 0]])
    output = image([[1, 2], [3, 4]])
    mask = image([[1, 0], [0, 0]])
    return ground_truth, output, mask


def test_terms_by_hand(hand_case):
    terms = PConvLoss(identity_features)(*hand_case)
    # composite = [[0, 2], [3, 4]]; the dilated hole covers all four pixels.
    expected = {
        "valid": 1 / 4,
        "hole": (2 + 3 + 4) / 4,
        "perceptual": (1 + 2 + 3 + 4) / 4 + (0 + 2 + 3 + 4) / 4,
        "style_out": (1 + 4 + 9 + 16) / 4,  # Gram of one channel over C*H*W = 4
        "style_comp": (0 + 4 + 9 + 16) / 4,
        "tv": (2 + 1 + 3 + 2) / 4,  # |2-0|, |4-3| across; |3-0|, |4-2| down
    }
    for name, value in expected.items():
        assert scalar(terms[name]) == pytest.approx(value), name
    weights = LossWeights()
    total = sum(getattr(weights, name) * value for name, value in expected.items())
    assert scalar(terms["total"]) == pytest.approx(total)


def test_weights_are_configurable(hand_case):
    only_hole = LossWeights(valid=0, hole=1, perceptual=0, style_out=0, style_comp=0, tv=0)
    terms = PConvLoss(identity_features, only_hole)(*hand_case)
    assert scalar(terms["total"]) == pytest.approx(2.25)


def test_pixel_losses_alone_never_run_the_feature_extractor(hand_case):
    def unused_features(images):
        raise AssertionError("VGG16 ran although no loss term uses its features")

    pixel_only = LossWeights(perceptual=0, style_out=0, style_comp=0)
    terms = PConvLoss(unused_features, pixel_only)(*hand_case)
    assert scalar(terms["total"]) == pytest.approx(1 / 4 + 6 * 9 / 4 + 0.1 * 8 / 4)
    assert scalar(terms["perceptual"]) == 0


def test_total_variation_counts_only_pairs_inside_the_dilated_hole():
    composite = image([[0, 1, 3, 6, 10]])
    mask = image([[1, 1, 1, 1, 0]])  # the hole is the last pixel; dilated, the last two
    value = scalar(total_variation_in_dilated_hole(composite, mask))
    assert value == pytest.approx(abs(10 - 6) / 5)


def test_gram_matrix_by_hand():
    features = np.array([[[[1, 2]], [[3, 4]]]], "float32")  # H=2, W=1, C=2
    gram = ops.convert_to_numpy(gram_matrix(features))[0]
    np.testing.assert_allclose(gram, np.array([[10, 14], [14, 20]]) / 4)


def test_perfect_output_leaves_only_the_smoothness_prior():
    rng = np.random.default_rng(0)
    truth = rng.random((2, 32, 32, 3)).astype("float32")
    mask = (rng.random((2, 32, 32, 1)) > 0.3).astype("float32")
    terms = PConvLoss(build_vgg16_feature_extractor())(truth, truth, mask)
    for name in ("valid", "hole", "perceptual", "style_out", "style_comp"):
        assert scalar(terms[name]) == pytest.approx(0.0, abs=1e-6), name
    expected_tv = scalar(total_variation_in_dilated_hole(truth, mask))
    assert scalar(terms["tv"]) == pytest.approx(expected_tv) and expected_tv > 0


def test_structural_similarity_is_the_statistic_that_evaluate_reports():
    rng = np.random.default_rng(0)
    truths = rng.random((2, 24, 20, 3)).astype("float32")
    # Smoothed, so that the windows hold structure to compare, not only noise.
    truths = (truths + np.roll(truths, 1, axis=1) + np.roll(truths, 1, axis=2)) / 3
    outputs = np.clip(truths + rng.normal(0, 0.05, truths.shape), 0, 1).astype("float32")
    expected = np.mean([ssim(output, truth) for output, truth in zip(outputs, truths, strict=True)])
    assert scalar(structural_similarity(outputs, truths)) == pytest.approx(expected, abs=1e-5)
    assert scalar(structural_similarity(truths, truths)) == pytest.approx(1.0, abs=1e-5)


def test_ssim_term_scores_the_composite():
    rng = np.random.default_rng(1)
    truth = rng.random((1, 16, 16, 3)).astype("float32")
    output = rng.random((1, 16, 16, 3)).astype("float32")
    mask = np.ones((1, 16, 16, 1), "float32")
    mask[:, 4:12, 4:12] = 0
    weights = LossWeights(valid=0, hole=0, perceptual=0, style_out=0, style_comp=0, tv=0, ssim=2)
    terms = PConvLoss(identity_features, weights)(truth, output, mask)
    expected = 1 - ssim(composite(output[0], truth[0], mask[0]), truth[0])
    assert scalar(terms["ssim"]) == pytest.approx(expected, abs=1e-5) and expected > 0.1
    assert scalar(terms["total"]) == pytest.approx(2 * expected, abs=1e-5)


def test_low_frequency_term_sees_block_means_in_the_hole_not_grain():
    truth = np.full((1, 16, 16, 3), 0.5, "float32")
    mask = np.ones((1, 16, 16, 1), "float32")
    mask[:, :8, :8] = 0
    # A checkerboard of +-0.2 averages out over each 8x8 block; a shift of 0.1 does not.
    checkerboard = 0.2 * (np.indices((16, 16)).sum(0) % 2 * 2 - 1)[None, :, :, None]
    weights = LossWeights(
        valid=0, hole=0, perceptual=0, style_out=0, style_comp=0, tv=0, low_frequency=3
    )
    loss = PConvLoss(identity_features, weights)
    grain = loss(truth, truth + checkerboard.astype("float32"), mask)
    shifted = loss(truth, truth + 0.1, mask)
    assert scalar(grain["low_frequency"]) == pytest.approx(0.0, abs=1e-6)
    # One block of the four is the hole: its mean is off by 0.1.
    assert scalar(shifted["low_frequency"]) == pytest.approx(0.1 / 4, abs=1e-6)
    assert scalar(shifted["total"]) == pytest.approx(3 * 0.1 / 4, abs=1e-6)


def test_ssim_of_images_smaller_than_its_window_is_a_clear_error():
    tiny = np.zeros((1, 5, 9, 3), "float32")
    with pytest.raises(ValueError, match="at least 7x7 pixels, got 5x9"):
        structural_similarity(tiny, tiny)


def test_vgg_normalisation_and_weight_loading(tmp_path):
    extractor = build_vgg16_feature_extractor()
    rng = np.random.default_rng(1)
    arrays = {}
    for layer in extractor.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_shape, bias_shape = (weight.shape for weight in layer.weights)
            arrays[f"{layer.name}/kernel"] = rng.normal(0, 0.1, kernel_shape).astype("float32")
            arrays[f"{layer.name}/bias"] = rng.normal(0, 0.1, bias_shape).astype("float32")
    path = tmp_path / "vgg.npz"
    np.savez(path, **arrays)
    loaded = build_vgg16_feature_extractor(path)
    # An image equal to the ImageNet mean normalises to zeros, so away from the zero-padded
    # border the first convolution outputs relu(bias).
    mean_image = np.broadcast_to(np.array(IMAGENET_MEAN, "float32"), (1, 8, 8, 3))
    first_conv = keras.Model(loaded.input, loaded.get_layer("block1_conv1").output)
    activations = ops.convert_to_numpy(first_conv(mean_image))
    np.testing.assert_allclose(
        activations[0, 3, 3], np.maximum(arrays["block1_conv1/bias"], 0), atol=1e-5
    )
    pools = loaded(np.zeros((1, 16, 16, 3), "float32"))
    assert [tuple(pool.shape) for pool in pools] == [(1, 8, 8, 64), (1, 4, 4, 128), (1, 2, 2, 256)]


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="holefill fetch-vgg"):
        build_vgg16_feature_extractor(tmp_path / "absent.npz")
    np.savez(tmp_path / "partial.npz", **{"block1_conv1/kernel": np.zeros((3, 3, 3, 64))})
    with pytest.raises(ValueError, match="lacks"):
        build_vgg16_feature_extractor(tmp_path / "partial.npz")


@pytest.mark.needs_shared_data
def test_shared_vgg_weights_see_structure(shared_data):
    weights = shared_data / "vgg16" / "vgg16_blocks1-3_torchvision_imagenet_hwio.npz"
    extractor = build_vgg16_feature_extractor(weights)
    rng = np.random.default_rng(2)
    smooth = np.broadcast_to(np.linspace(0, 1, 32, dtype="float32")[None, :, None], (32, 32, 3))
    noise = rng.random((32, 32, 3)).astype("float32")
    loss = PConvLoss(extractor)
    mask = np.ones((1, 32, 32, 1), "float32")
    mask[:, 8:24, 8:24] = 0
    # Pretrained features must tell a smooth ramp from noise by far more than from itself.
    far = scalar(loss(smooth[None], noise[None], mask)["perceptual"])
    near = scalar(loss(smooth[None], smooth[None] + 0.01, mask)["perceptual"])
    assert far > 10 * near > 0
