"""Where a fill is likely wrong: the map of a method, its heat map, and the bar it must pass.

Two methods make the map (`METHODS`):

- "error-map": `holefill.inference.error_map`, one pass: the expected absolute error of each hole
  pixel, from the fill's disagreement with diffusion, the texture around and inside the
  hole, and the distance from its edge, fitted on photos outside the validation set.
- "monte-carlo": the spread of N passes with dropout active (Gal and Ghahramani 2016), the
  network's uncertainty about its weights, with the draws' mean and a 95% interval.

A model's card says, per method, whether its map ranks the real error on the validation
set well enough to be shown (`judge`): a map that is brighter where the fill is better
misleads, so the service offers only the methods that pass.
"""

import dataclasses
import io

import cv2
import numpy as np
from PIL import Image

METHODS = ("error-map", "monte-carlo")
# What `uncertainty="auto"` asks for: the card's best offered method, or no map.
AUTO = "auto"
# Every value `uncertainty=` takes.
CHOICES = (AUTO, "none", *METHODS)
UNITS = {
    "error-map": "the expected absolute error of the pixel (the mean over its colour "
    "channels) as a share of the full range, 100% being black where white was",
    "monte-carlo": "the spread (standard deviation) of the network's passes with dropout, as "
    "a share of the full range",
}
# The value that the heat map's top colour stands for, fixed per method so that maps of
# different photos compare: the error map's deciles on the validation set reach 0.16.
FULL_SCALES = {"error-map": 0.2, "monte-carlo": 0.1}
# The bar a map must pass on the validation set to be offered: Spearman's correlation with
# the absolute error over hole pixels, overall and in every hole-ratio bucket, and a
# measured error that rises with the map's deciles.
SPEARMAN_OVERALL_BAR = 0.5
SPEARMAN_BUCKET_BAR = 0.4
OVERALL = "overall"
# z of a two-sided 95% interval under a normal approximation of the samples.
Z_95 = 1.959964


def judge(validation):
    """`(offered, why)` for a method's `validation` (as `holefill calibrate-uncertainty`
    writes it on the card: `spearman` per bucket and overall, `reliability` rows)."""
    spearman = validation["spearman"]
    overall = spearman[OVERALL]
    buckets = {row: value for row, value in spearman.items() if row != OVERALL}
    worst_row = min(buckets, key=buckets.get)
    rmse = [row["rmse"] for row in validation["reliability"]]
    falls = [index + 1 for index in range(len(rmse) - 1) if rmse[index + 1] < rmse[index]]
    problems = []
    if overall < SPEARMAN_OVERALL_BAR:
        problems.append(f"Spearman {overall:.3f} overall, under {SPEARMAN_OVERALL_BAR}")
    if buckets[worst_row] < SPEARMAN_BUCKET_BAR:
        problems.append(
            f"Spearman {buckets[worst_row]:.3f} in the {worst_row} bucket, under "
            f"{SPEARMAN_BUCKET_BAR}"
        )
    if falls:
        problems.append(
            "the measured RMSE falls after decile " + ", ".join(str(index) for index in falls)
        )
    if problems:
        return False, "not offered: on the validation set, " + "; ".join(problems) + "."
    return True, (
        f"offered: on the validation set, Spearman {overall:.3f} overall and at least "
        f"{buckets[worst_row]:.3f} in every bucket, and the measured RMSE rises with every "
        "decile of the map."
    )


@dataclasses.dataclass(frozen=True)
class Uncertainty:
    """A fill's uncertainty map, upright, at the photo's size.

    Attributes:
        method: one of `METHODS`.
        values: float32 `(height, width)`, in the method's unit (`UNITS`); 0 on known
            pixels, which come from the photo.
        holes: bool `(height, width)`, True on the pixels that were filled.
        full_scale: the value the heat map's top colour stands for.
    """

    method: str
    values: np.ndarray
    holes: np.ndarray
    full_scale: float

    @property
    def unit(self):
        return UNITS[self.method]

    def heatmap(self):
        """The map as RGBA (inferno: black = 0, yellow = `full_scale` or more) on the
        holes, transparent on the known pixels, so that it lies over the result."""
        levels = np.clip(np.round(self.values / self.full_scale * 255.0), 0, 255)
        coloured = cv2.applyColorMap(levels.astype(np.uint8), cv2.COLORMAP_INFERNO)
        rgba = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGBA)
        rgba[..., 3] = np.where(self.holes, 255, 0)
        return Image.fromarray(rgba, mode="RGBA")

    def heatmap_png(self):
        """`heatmap()` encoded as PNG bytes."""
        buffer = io.BytesIO()
        self.heatmap().save(buffer, format="PNG")
        return buffer.getvalue()

    def data_png(self):
        """The map's values as a 16-bit greyscale PNG: grey / 65535 is the value in the
        method's unit (1 = the whole range), 0 off the holes; for measuring, not looking."""
        levels = np.round(np.clip(self.values, 0.0, 1.0) * 65535.0).astype(np.uint16)
        buffer = io.BytesIO()
        Image.fromarray(levels).save(buffer, format="PNG")
        return buffer.getvalue()

    def save_arrays(self, path):
        """Writes the map (`values`, its `method` and `unit`) to a compressed `.npz`."""
        np.savez_compressed(path, **self._arrays())

    def _arrays(self):
        return {"values": self.values, "method": self.method, "unit": self.unit}


@dataclasses.dataclass(frozen=True)
class MonteCarloUncertainty(Uncertainty):
    """The Monte-Carlo estimate: `values` is the per-pixel standard deviation of the
    samples, with their mean and per-channel spread.

    The spread of the samples does not shrink with N (the standard error of their *mean*,
    std / sqrt(N), does, and is not what a user wants to see).

    Attributes:
        mean: float32 `(height, width, 3)` RGB in [0, 1], the mean of the samples; the
            photo on known pixels.
        channel_std: float32 `(height, width, 3)`, the samples' standard deviation per
            channel (with Bessel's correction), 0 on known pixels.
        samples: the number of samples N.
    """

    mean: np.ndarray = None
    channel_std: np.ndarray = None
    samples: int = 0

    @classmethod
    def from_moments(cls, mean, mean_square, holes, samples):
        """From the per-pixel mean and mean square of the samples, zero off the holes.

        The moments may come scaled up by cubic interpolation, which can overshoot: the
        mean is clipped to [0, 1] and the variance to >= 0.
        """
        if samples < 2:
            raise ValueError(f"uncertainty needs at least 2 samples, got {samples}.")
        # E[x^2] - E[x]^2 loses a few bits to cancellation; it can dip just below 0.
        variance = np.maximum(mean_square - np.square(mean), 0.0) * (samples / (samples - 1))
        channel_std = np.where(holes[..., None], np.sqrt(variance), 0.0).astype(np.float32)
        return cls(
            method="monte-carlo",
            values=channel_std.mean(axis=2),
            holes=holes,
            full_scale=FULL_SCALES["monte-carlo"],
            mean=np.clip(mean, 0.0, 1.0).astype(np.float32),
            channel_std=channel_std,
            samples=samples,
        )

    @property
    def std(self):
        """Per-pixel standard deviation, the mean over the channels: float32 `(h, w)`."""
        return self.values

    @property
    def interval(self):
        """`(lower, upper)`: mean -/+ 1.96 std per channel, within [0, 1] (a normal
        approximation of the 95% predictive interval)."""
        lower = np.clip(self.mean - Z_95 * self.channel_std, 0.0, 1.0)
        upper = np.clip(self.mean + Z_95 * self.channel_std, 0.0, 1.0)
        return lower, upper

    def _arrays(self):
        lower, upper = self.interval
        return {
            **super()._arrays(),
            "mean": self.mean,
            "std": self.std,
            "lower": lower,
            "upper": upper,
            "samples": self.samples,
        }
