import math

import cv2
import numpy as np
import pytest

from holefill.evaluation import metrics


def test_psnr_of_a_known_mean_squared_error():
    ground_truth = np.zeros((8, 8, 3), np.float32)
    output = np.full((8, 8, 3), 0.1, np.float32)  # MSE 0.01 -> 10 * log10(1 / 0.01) = 20 dB
    assert metrics.psnr(output, ground_truth) == pytest.approx(20.0, abs=1e-5)


def test_psnr_of_identical_images_is_infinite_and_capped_in_the_registry():
    image = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    assert metrics.psnr(image, image) == math.inf
    scores = metrics.METRICS["psnr"].function(image[None], image[None], np.ones((1, 8, 8, 1)))
    assert scores.tolist() == [metrics.PSNR_CAP_DB]


def test_l1_percent_of_a_known_difference():
    ground_truth = np.full((4, 4, 3), 0.5, np.float32)
    output = ground_truth.copy()
    output[:2] += 0.2  # half the pixels off by 0.2 -> mean 0.1 -> 10 %
    assert metrics.l1_percent(output, ground_truth) == pytest.approx(10.0, abs=1e-5)


def test_ssim_of_identical_images_is_one_and_lower_otherwise():
    image = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    assert metrics.ssim(image, image) == pytest.approx(1.0)
    assert metrics.ssim(np.clip(image + 0.2, 0, 1), image) < 0.99


def test_composite_keeps_known_pixels_bit_exact_and_takes_the_hole_from_the_output():
    rng = np.random.default_rng(0)
    ground_truth = rng.random((16, 16, 3), dtype=np.float32)
    output = rng.random((16, 16, 3), dtype=np.float32)
    mask = np.ones((16, 16, 1), np.float32)
    mask[4:9, 3:12] = 0.0
    result = metrics.composite(output, ground_truth, mask)
    known = mask[..., 0] == 1
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result[known], ground_truth[known])
    np.testing.assert_array_equal(result[~known], output[~known])


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match="mask must have shape"):
        metrics.composite(
            np.zeros((4, 4, 3), np.float32),
            np.zeros((4, 4, 3), np.float32),
            np.ones((4, 4), np.float32),
        )


def test_every_registered_metric_scores_each_pair_of_a_batch(fake_pretrained_lpips):
    images = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    outputs = images.copy()
    outputs[1:] *= 0.5
    masks = np.ones((3, 32, 32, 1), np.float32)
    masks[:, 8:24, 8:24] = 0.0
    for name, metric in metrics.METRICS.items():
        scores = metric.function(outputs, images, masks)
        assert scores.shape == (3,) and scores.dtype == np.float64, name
        # The first pair is identical: the best score, strictly better than the others'.
        keys = [metric.sort_key(score) for score in scores]
        assert keys[0] < min(keys[1:]), name


def test_which_scores_are_better():
    higher, lower, closest_to_one = (metrics.METRICS[name] for name in ("psnr", "l1", "texture"))
    assert higher.direction == "higher" and higher.sort_key(30.0) < higher.sort_key(20.0)
    assert lower.direction == "lower" and lower.sort_key(2.0) < lower.sort_key(3.0)
    assert closest_to_one.direction == "closest to 1"
    assert closest_to_one.sort_key(1.1) < closest_to_one.sort_key(0.8)
    assert closest_to_one.sort_key(0.9) < closest_to_one.sort_key(1.2)


def test_per_image_batches_a_metric_of_one_pair():
    images = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    masks = np.ones((2, 8, 8, 1), np.float32)
    scores = metrics.per_image(metrics.l1_percent)(images * 0.5, images, masks)
    assert scores.tolist() == [metrics.l1_percent(image * 0.5, image) for image in images]


def _grain(size=64):
    """A smooth gradient and fine noise: a photo's shading and its grain."""
    ramp = np.linspace(0.2, 0.8, size, dtype=np.float32)
    shading = np.repeat((0.3 * ramp[:, None] + 0.6 * ramp[None, :])[..., None], 3, axis=2)
    noise = np.random.default_rng(0).normal(0.0, 0.05, (size, size, 3)).astype(np.float32)
    return shading, noise


def _hole_mask(size=64):
    mask = np.ones((size, size, 1), np.float32)
    mask[8:56, 12:52] = 0.0
    return mask


def test_texture_ratio_of_the_truth_itself_is_one():
    shading, noise = _grain()
    truth = shading + noise
    assert metrics.texture_ratio(truth, truth, _hole_mask()) == pytest.approx(1.0, abs=1e-12)


def test_texture_ratio_of_a_blurred_fill_is_well_under_one():
    shading, noise = _grain()
    truth = shading + noise
    blurred = cv2.GaussianBlur(truth, (0, 0), sigmaX=2.0)
    assert metrics.texture_ratio(blurred, truth, _hole_mask()) < 0.5


def test_texture_ratio_of_twice_the_grain_is_about_two():
    shading, noise = _grain()
    # Not exactly 2: at the hole's edge the Laplacian reads the truth's known pixels.
    ratio = metrics.texture_ratio(shading + 2 * noise, shading + noise, _hole_mask())
    assert ratio == pytest.approx(2.0, abs=0.01)


def test_texture_ratio_weighs_the_channels_as_luma():
    shading, noise = _grain()
    grey_noise = np.repeat(noise[..., :1], 3, axis=2)
    # The same luma grain carried by the blue channel alone: 1 / 0.114 times as strong there.
    blue_noise = np.zeros_like(grey_noise)
    blue_noise[..., 2] = grey_noise[..., 2] / metrics.LUMA_WEIGHTS[2]
    ratio = metrics.texture_ratio(shading + blue_noise, shading + grey_noise, _hole_mask())
    assert ratio == pytest.approx(1.0, abs=1e-5)


def test_texture_ratio_reads_only_the_fill():
    shading, noise = _grain()
    truth = shading + noise
    mask = _hole_mask()
    fill = cv2.GaussianBlur(truth, (0, 0), sigmaX=1.0)
    # Known pixels that differ from the truth, right up to the hole's edge, where the
    # Laplacian of the hole's border pixels reads them.
    off_known = np.where(mask == 1, 1.0 - truth, fill)
    assert metrics.texture_ratio(off_known, truth, mask) == metrics.texture_ratio(
        metrics.composite(fill, truth, mask), truth, mask
    )


def test_texture_ratio_is_undefined_without_texture_in_the_truths_hole():
    shading, noise = _grain()
    mask = _hole_mask()
    # An evenly shaded truth: its Laplacian is 0 but for the rounding of float32.
    assert math.isnan(metrics.texture_ratio(shading + noise, shading, mask))
    flat = np.full_like(shading, 0.5)
    assert math.isnan(metrics.texture_ratio(shading + noise, flat, mask))
    assert math.isnan(metrics.texture_ratio(shading, shading, np.ones_like(mask)))
