"""Image-quality metrics for inpainting.

The pixel metrics (`psnr`, `ssim`, `l1_percent`) take ``(output, ground_truth)``: float32
arrays in [0, 1] of shape ``(H, W, 3)``. LPIPS, a network, runs on batches: see
`holefill.evaluation.lpips`. Inpainting papers score the *composited* output, in which the known
pixels come from the input and only the hole is the model's: see `composite`.

`METRICS` is the registry that the evaluation reads, with every metric in batched form:
adding a metric means writing its function and adding one `Metric` entry there.
"""

import dataclasses
import math
from collections.abc import Callable

import numpy as np
from skimage.metrics import structural_similarity

# A perfect fill has an infinite PSNR, which would make every mean containing it infinite
# (and is not valid JSON). 100 dB is far above what any real fill reaches (one 8-bit level
# of error in a single pixel of a 512x512 image is already ~107 dB), so capping there
# changes no real score.
PSNR_CAP_DB = 100.0


def _check_pair(output: np.ndarray, ground_truth: np.ndarray) -> None:
    if output.shape != ground_truth.shape:
        raise ValueError(
            f"output and ground truth must have the same shape, got {output.shape} and "
            f"{ground_truth.shape}."
        )


def psnr(output: np.ndarray, ground_truth: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, for images in [0, 1] (data range 1).

    Returns ``math.inf`` for identical images; the evaluation caps it at `PSNR_CAP_DB`.
    """
    _check_pair(output, ground_truth)
    # float64: the squared errors of float32 images lose digits when averaged over millions
    # of pixels.
    mean_squared_error = np.mean(np.square(output.astype(np.float64) - ground_truth))
    if mean_squared_error == 0:
        return math.inf
    return float(10.0 * np.log10(1.0 / mean_squared_error))


def ssim(output: np.ndarray, ground_truth: np.ndarray) -> float:
    """Structural similarity (scikit-image, 7x7 uniform window), averaged over the channels."""
    _check_pair(output, ground_truth)
    return float(structural_similarity(output, ground_truth, channel_axis=-1, data_range=1.0))


def l1_percent(output: np.ndarray, ground_truth: np.ndarray) -> float:
    """Mean absolute error, in percent of the [0, 1] range."""
    _check_pair(output, ground_truth)
    return float(np.mean(np.abs(output.astype(np.float64) - ground_truth)) * 100.0)


def composite(output: np.ndarray, ground_truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Known pixels from ``ground_truth``, hole pixels from ``output``.

    ``mask`` is 1 for known pixels and 0 for the hole, shape ``(H, W, 1)`` (or
    ``(N, H, W, 1)`` with batched images). With a binary mask the known pixels are copied
    bit-exactly; fractional mask values blend the two.
    """
    _check_pair(output, ground_truth)
    if mask.shape != (*ground_truth.shape[:-1], 1):
        raise ValueError(
            f"mask must have shape {(*ground_truth.shape[:-1], 1)} for images of shape "
            f"{ground_truth.shape}, got {mask.shape}."
        )
    return (mask * ground_truth + (1.0 - mask) * output).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Metric:
    """A metric as the evaluation sees it: how to compute it, and how to read it.

    ``function`` is batched: ``(outputs, ground_truths) -> scores``, from two
    ``(N, H, W, 3)`` arrays to ``(N,)`` scores, one per image pair.
    """

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    higher_is_better: bool
    label: str
    decimals: int


def per_image(
    function: Callable[[np.ndarray, np.ndarray], float],
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Turns a metric of one image pair into the batched form that `Metric` holds."""

    def batched_function(outputs: np.ndarray, ground_truths: np.ndarray) -> np.ndarray:
        return np.array(
            [function(output, truth) for output, truth in zip(outputs, ground_truths, strict=True)],
            dtype=np.float64,
        )

    return batched_function


def _capped_psnr(output: np.ndarray, ground_truth: np.ndarray) -> float:
    return min(psnr(output, ground_truth), PSNR_CAP_DB)


def _lpips_alexnet(outputs: np.ndarray, ground_truths: np.ndarray) -> np.ndarray:
    # Imported on first use: LPIPS needs Keras and downloaded weights, and importing this
    # module must need neither (the baselines use `composite` without Keras).
    from holefill.evaluation.lpips import pretrained_lpips

    return pretrained_lpips("alexnet")(outputs, ground_truths)


METRICS: dict[str, Metric] = {
    "psnr": Metric(per_image(_capped_psnr), higher_is_better=True, label="PSNR (dB)", decimals=2),
    "ssim": Metric(per_image(ssim), higher_is_better=True, label="SSIM", decimals=4),
    "lpips": Metric(_lpips_alexnet, higher_is_better=False, label="LPIPS (AlexNet)", decimals=4),
    "l1": Metric(per_image(l1_percent), higher_is_better=False, label="L1 (%)", decimals=3),
}
