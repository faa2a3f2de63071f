"""An estimate of a fill's absolute error per hole pixel, from one pass of the network.

Monte-Carlo dropout on the last layer spreads where the network is unsure of its weights,
which is not where its fill is wrong: on the validation set its spread ranks the error
*inversely*. What does rank it is visible in one pass: where the network disagrees with a
diffusion fill, where the photo around the hole is textured (a smooth sky is easy, foliage
is not), where the fill itself is busy, and how far a pixel lies from the hole's edge. The
map is a log-linear model of those four, fitted by least squares on photos outside the
validation set; its value is the expected absolute error of the pixel, in the unit of the
photo's values (1.0 = the full range of a channel).
"""

import dataclasses
import math

import cv2
import numpy as np

from holefill.inference.strategies import unit_float

FEATURES = ("disagreement", "distance", "context_texture", "fill_texture")
# The floors keep the logarithms finite on flat regions and exact agreements.
_FLOORS = {"disagreement": 1e-3, "distance": 1.0, "context_texture": 1e-2, "fill_texture": 1e-2}
_ERROR_FLOOR = 1e-2
# Scales in pixels at the model's working size: the disagreement is smoothed a little, the
# known surroundings' texture gathered from about a receptive field's reach.
_DISAGREEMENT_SIGMA = 1.5
_CONTEXT_SIGMA = 8.0
_FILL_SIGMA = 3.0
# The photo read around the holes: the context's blur reaches 3 sigma.
_WINDOW_MARGIN = math.ceil(3 * _CONTEXT_SIGMA) + 2


def _gradient_magnitude(rgb):
    grey = rgb.mean(axis=2).astype(np.float32)
    return np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def error_features(photo, holes, fill, diffusion):
    """The four feature maps, float32 `(height, width)` each, in `FEATURES` order.

    Args:
        photo: float `(height, width, 3)` in [0, 1]; hole pixels are not read.
        holes: bool `(height, width)`, True on the hole.
        fill: float `(height, width, 3)` in [0, 1], the fill to estimate the error of.
        diffusion: float `(height, width, 3)` in [0, 1], a diffusion fill of the same holes.
    """
    disagreement = np.abs(fill - diffusion).mean(axis=2).astype(np.float32)
    disagreement = cv2.GaussianBlur(disagreement, (0, 0), _DISAGREEMENT_SIGMA)
    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, 3)
    # Normalised convolution: the gradient where the 3x3 Sobel window holds known pixels
    # alone (so the photo inside the hole is never read), averaged over those pixels.
    known = cv2.erode((~holes).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    gradient = np.where(known > 0, _gradient_magnitude(photo), 0.0).astype(np.float32)
    gathered = cv2.GaussianBlur(gradient, (0, 0), _CONTEXT_SIGMA)
    context_texture = gathered / (cv2.GaussianBlur(known, (0, 0), _CONTEXT_SIGMA) + 1e-4)
    fill_texture = cv2.GaussianBlur(_gradient_magnitude(fill), (0, 0), _FILL_SIGMA)
    return np.stack([disagreement, distance, context_texture, fill_texture])


def hole_features(colour, holes, fill, diffusion):
    """The features at each hole pixel of a served fill: float32 `(4, holes)`, in the
    row-major order of the hole pixels.

    Only a window around the holes is read, so that a large photo costs what its holes do.

    Args:
        colour: the photo, `(height, width, 3)`, uint8, uint16 or float in [0, 1].
        holes: bool `(height, width)`, True on the hole.
        fill: `(height, width, 3)`, the fill in any of `colour`'s types, read on the holes.
        diffusion: the `holefill.inference.seams.HoleDiffusion` of the same holes.
    """
    rows, columns = diffusion.window
    height, width = holes.shape
    window = (
        slice(max(rows.start - _WINDOW_MARGIN, 0), min(rows.stop + _WINDOW_MARGIN, height)),
        slice(max(columns.start - _WINDOW_MARGIN, 0), min(columns.stop + _WINDOW_MARGIN, width)),
    )
    inner = (
        slice(rows.start - window[0].start, rows.stop - window[0].start),
        slice(columns.start - window[1].start, columns.stop - window[1].start),
    )
    photo = unit_float(colour[window])
    hole = holes[window]
    filled = np.where(hole[..., None], unit_float(fill[window]), photo)
    diffused = photo.copy()
    diffused[inner][diffusion.holes] = diffusion.values
    return error_features(photo, hole, filled, diffused)[:, hole]


def _design(features):
    """Rows of log features and a constant, for `features` of shape `(4, ...)`."""
    columns = [
        np.log(np.asarray(values, np.float64).ravel() + _FLOORS[name])
        for name, values in zip(FEATURES, features, strict=True)
    ]
    return np.stack([*columns, np.ones_like(columns[0])], axis=1)


@dataclasses.dataclass(frozen=True)
class ErrorMap:
    """`log(error + 0.01) = w . log(features + floors) + b`, and a scale that makes the
    mean prediction equal the mean error on the photos it was fitted on."""

    weights: tuple[float, ...]
    scale: float = 1.0

    def __post_init__(self):
        if len(self.weights) != len(FEATURES) + 1:
            raise ValueError(
                f"an ErrorMap takes {len(FEATURES) + 1} weights ({', '.join(FEATURES)} and "
                f"a constant), got {len(self.weights)}."
            )

    @classmethod
    def fit(cls, features, errors):
        """Least squares on `features` `(4, pixels)` against absolute `errors` `(pixels,)`."""
        design = _design(features)
        target = np.log(np.asarray(errors, np.float64) + _ERROR_FLOOR)
        weights, *_ = np.linalg.lstsq(design, target, rcond=None)
        fitted = cls(tuple(float(weight) for weight in weights))
        predicted = fitted.predict(features)
        scale = float(np.mean(errors) / max(np.mean(predicted), 1e-12))
        return cls(fitted.weights, scale)

    def predict(self, features):
        """The expected absolute error for `features` `(4, ...)`, shaped like one map."""
        shape = np.shape(features)[1:]
        logged = _design(features) @ np.asarray(self.weights)
        error = np.maximum(np.exp(logged) - _ERROR_FLOOR, 0.0) * self.scale
        return error.reshape(shape).astype(np.float32)

    def estimate(self, colour, holes, fill, diffusion):
        """The expected absolute error at each pixel of a served fill: float32
        `(height, width)`, 0 off the holes (arguments as for `hole_features`)."""
        error = np.zeros(holes.shape, np.float32)
        error[holes] = self.predict(hole_features(colour, holes, fill, diffusion))
        return error

    def to_dict(self):
        return {"features": list(FEATURES), "weights": list(self.weights), "scale": self.scale}

    @classmethod
    def from_dict(cls, values):
        if list(values.get("features", [])) != list(FEATURES):
            raise ValueError(
                f"this error map was fitted on features {values.get('features')}, "
                f"not {list(FEATURES)}: fit it again."
            )
        return cls(tuple(values["weights"]), values["scale"])
