"""Monte-Carlo dropout uncertainty of a fill: mean, spread, 95% interval and a heat map.

N passes with dropout active sample the network's predictive distribution at each hole
pixel (the runtime batches them and runs only the draw-dependent layers per sample). The
spread of those samples is the network's own uncertainty about the fill; it does not
shrink with N (the standard error of the *mean*, std / sqrt(N), does, and is not what a
user wants to see). No inpainting tool shows this; Holefill does.
"""

import dataclasses
import io

import cv2
import numpy as np
from PIL import Image

# z of a two-sided 95% interval under a normal approximation of the samples.
Z_95 = 1.959964
# The standard deviation (of values in [0, 1]) that the heat map's top colour stands for:
# fixed, so that maps of different photos compare.
HEATMAP_FULL_SCALE = 0.1


@dataclasses.dataclass(frozen=True)
class Uncertainty:
    """The Monte-Carlo estimate for one photo, upright, at the photo's size.

    Known pixels come from the photo, so their spread is 0 and their mean is the photo.

    Attributes:
        mean: float32 `(height, width, 3)` RGB in [0, 1], the mean of the samples.
        channel_std: float32 `(height, width, 3)`, the samples' standard deviation per
            channel (with Bessel's correction).
        samples: the number of samples N.
    """

    mean: np.ndarray
    channel_std: np.ndarray
    samples: int

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
        mean = np.clip(mean, 0.0, 1.0).astype(np.float32)
        return cls(mean=mean, channel_std=channel_std, samples=samples)

    @property
    def std(self):
        """Per-pixel standard deviation, the mean over the channels: float32 `(h, w)`."""
        return self.channel_std.mean(axis=2)

    @property
    def interval(self):
        """`(lower, upper)`: mean -/+ 1.96 std per channel, within [0, 1] (a normal
        approximation of the 95% predictive interval)."""
        lower = np.clip(self.mean - Z_95 * self.channel_std, 0.0, 1.0)
        upper = np.clip(self.mean + Z_95 * self.channel_std, 0.0, 1.0)
        return lower, upper

    def heatmap(self, full_scale=HEATMAP_FULL_SCALE):
        """The spread as a colour map (inferno: black = certain, yellow = `full_scale` or
        more); an RGB PIL image."""
        if full_scale <= 0:
            raise ValueError(f"full_scale must be positive, got {full_scale!r}.")
        levels = np.clip(np.round(self.std / full_scale * 255.0), 0, 255).astype(np.uint8)
        coloured = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)
        return Image.fromarray(cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB))

    def heatmap_png(self, full_scale=HEATMAP_FULL_SCALE):
        """`heatmap()` encoded as PNG bytes."""
        buffer = io.BytesIO()
        self.heatmap(full_scale).save(buffer, format="PNG")
        return buffer.getvalue()

    def save_arrays(self, path):
        """Writes mean, std, lower and upper to a compressed `.npz` file."""
        lower, upper = self.interval
        np.savez_compressed(
            path, mean=self.mean, std=self.std, lower=lower, upper=upper, samples=self.samples
        )
