import math

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
    scores = metrics.METRICS["psnr"].function(image[None], image[None])
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
    for name, metric in metrics.METRICS.items():
        scores = metric.function(outputs, images)
        assert scores.shape == (3,) and scores.dtype == np.float64, name
        # The first pair is identical: the best score, strictly better than the others'.
        if metric.higher_is_better:
            assert scores[0] > max(scores[1:]), name
        else:
            assert scores[0] < min(scores[1:]), name


def test_per_image_batches_a_metric_of_one_pair():
    images = np.random.default_rng(0).random((2, 8, 8, 3), dtype=np.float32)
    scores = metrics.per_image(metrics.l1_percent)(images * 0.5, images)
    assert scores.tolist() == [metrics.l1_percent(image * 0.5, image) for image in images]
