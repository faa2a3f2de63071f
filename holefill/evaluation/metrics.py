"""Image-quality metrics for inpainting.

The pixel metrics (`psnr`, `ssim`, `l1_percent`) take ``(output, ground_truth)``: float32
arrays in [0, 1] of shape ``(H, W, 3)``; `texture_ratio` takes the mask too, as it reads only
the hole. LPIPS, a network, runs on batches: see `holefill.evaluation.lpips`. Inpainting
papers score the *composited* output, in which the known pixels come from the input and only
the hole is the model's: see `composite`.

`METRICS` is the registry that the evaluation reads, with every metric in batched form:
adding a metric means writing its function and adding one `Metric` entry there.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Literal

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from holefill.imaging.photos import LUMA_WEIGHTS

# A perfect fill has an infinite PSNR, which would make every mean containing it infinite
# (and is not valid JSON). 100 dB is far above what any real fill reaches (one 8-bit level
# of error in a single pixel of a 512x512 image is already ~107 dB), so capping there
# changes no real score.
PSNR_CAP_DB = 100.0

# Below this texture (the standard deviation of the Laplacian of luma) a truth's hole counts as
# flat. Not 0: the rounding of float32 images leaves an evenly shaded patch, whose Laplacian is
# 0, at up to ~1e-7, where the grain of a photo is of the order of one 8-bit level, ~4e-3.
FLAT_TEXTURE = 1e-6


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


def texture_ratio(output: np.ndarray, ground_truth: np.ndarray, mask: np.ndarray) -> float:
    """The texture of the fill over the truth's, in the hole: 1 when the fill has the truth's
    grain, well under 1 for a blur (Navier-Stokes ~0.15), above 1 for a fill noisier than the
    truth.

    The texture is the standard deviation, over the hole's pixels, of the Laplacian
    (4-neighbour kernel) of the ITU-R BT.601 luma. ``mask`` is as for `composite`, 1 = known,
    the hole where it is under 0.5. Returns ``nan`` where the ratio is undefined: an empty hole,
    or a truth without texture in the hole (under `FLAT_TEXTURE`), which has no grain to match.
    """
    holes = mask[..., 0] < 0.5
    if not holes.any():
        return math.nan
    truth_texture = _texture(ground_truth, holes)
    if truth_texture < FLAT_TEXTURE:
        return math.nan
    # The known pixels from the truth: at the hole's edge the Laplacian reads them, and only
    # the fill is the output's to score.
    return _texture(composite(output, ground_truth, mask), holes) / truth_texture


def _texture(image: np.ndarray, holes: np.ndarray) -> float:
    # float64, as in `psnr`: the squares that the standard deviation averages lose digits in
    # float32 over millions of pixels.
    luma = image.astype(np.float64) @ LUMA_WEIGHTS
    return float(cv2.Laplacian(luma, cv2.CV_64F, ksize=1)[holes].std())


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


# (outputs, ground_truths, masks) -> scores: see `Metric`.
BatchedMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Metric:
    """A metric as the evaluation sees it: how to compute it, and how to read it.

    ``function`` is batched: ``(outputs, ground_truths, masks) -> scores``, from two
    ``(N, H, W, 3)`` arrays and their ``(N, H, W, 1)`` masks (1 = known) to ``(N,)`` scores,
    one per image pair; the metrics of the whole image leave the masks unread. A score may be
    ``nan`` where the metric is undefined for that pair (see `texture_ratio`).

    ``best`` says which scores are better: ``"higher"``, ``"lower"``, or the ideal score of a
    metric that errs both ways (the texture ratio's 1).
    """

    function: BatchedMetric
    best: Literal["higher", "lower"] | float
    label: str
    decimals: int

    @property
    def direction(self) -> str:
        """Which scores are better, as the reports say it: "higher", "lower", "closest to 1"."""
        return self.best if isinstance(self.best, str) else f"closest to {self.best:g}"

    def sort_key(self, score: float) -> float:
        """Smaller for better scores: sorting by it ranks scores from best to worst."""
        if self.best == "higher":
            return -score
        if self.best == "lower":
            return score
        return abs(score - self.best)


def per_image(function: Callable[[np.ndarray, np.ndarray], float]) -> BatchedMetric:
    """Turns a metric of one image pair into the batched form that `Metric` holds; the metric
    scores the whole image and leaves the masks unread."""

    def batched_function(
        outputs: np.ndarray, ground_truths: np.ndarray, masks: np.ndarray
    ) -> np.ndarray:
        return np.array(
            [function(output, truth) for output, truth in zip(outputs, ground_truths, strict=True)],
            dtype=np.float64,
        )

    return batched_function


def _capped_psnr(output: np.ndarray, ground_truth: np.ndarray) -> float:
    return min(psnr(output, ground_truth), PSNR_CAP_DB)


def _texture_ratios(
    outputs: np.ndarray, ground_truths: np.ndarray, masks: np.ndarray
) -> np.ndarray:
    return np.array(
        [
            texture_ratio(output, truth, mask)
            for output, truth, mask in zip(outputs, ground_truths, masks, strict=True)
        ],
        dtype=np.float64,
    )


def _lpips_alexnet(outputs: np.ndarray, ground_truths: np.ndarray, masks: np.ndarray) -> np.ndarray:
    # Imported on first use: LPIPS needs Keras and downloaded weights, and importing this
    # module must need neither (the baselines use `composite` without Keras).
    from holefill.evaluation.lpips import pretrained_lpips

    return pretrained_lpips("alexnet")(outputs, ground_truths)


METRICS: dict[str, Metric] = {
    "psnr": Metric(per_image(_capped_psnr), best="higher", label="PSNR (dB)", decimals=2),
    "ssim": Metric(per_image(ssim), best="higher", label="SSIM", decimals=4),
    "lpips": Metric(_lpips_alexnet, best="lower", label="LPIPS (AlexNet)", decimals=4),
    "l1": Metric(per_image(l1_percent), best="lower", label="L1 (%)", decimals=3),
    "texture": Metric(_texture_ratios, best=1.0, label="Texture ratio", decimals=2),
}
