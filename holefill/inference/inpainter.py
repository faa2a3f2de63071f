"""`Inpainter`: a photo and a mask in, the photo with its hole filled out.

The serving path, one module per step, none of which imports TensorFlow or Keras:

    validate           photos.open_photo, masks.read_mask    (limits, EXIF, masks: the
                       strategies.plan, cost.CostModel        header and the plan give
                                                              the cost, checked first)
    decode             OpenedPhoto.decode                     (modes, orientation)
    preprocess         strategies.inpaint                     (crop, tile or resize)
    model              runtime.LiteRTModel                    (tiles, Monte-Carlo samples)
    postprocess        region by region (strategies.Region):  (memory bounded by the
                       synthesis.synthesize                    largest region; the photo's
                       or seams.blend_seams,                   own texture, guided by the
                       error_map.ErrorMap                      network; where it may be wrong)
                       then Photo.with_fill, uncertainty      (holes only, bit-exact rest)
    encode             Photo.encode                           (same format and metadata)
"""

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from holefill.errors import InvalidInputError
from holefill.imaging.masks import read_mask
from holefill.imaging.photos import DEFAULT_LIMITS, Photo, open_photo
from holefill.inference import strategies
from holefill.inference.cost import CostModel, Job
from holefill.inference.error_map import ErrorMap
from holefill.inference.runtime import LiteRTModel
from holefill.inference.seams import DEFAULT_SEAMS, blend_seams, diffuse_holes
from holefill.inference.synthesis import (
    DEFAULT_FILL,
    DEFAULT_SYNTHESIS,
    FILLS,
    synthesize,
)
from holefill.inference.uncertainty import (
    AUTO,
    CHOICES,
    FULL_SCALES,
    METHODS,
    MonteCarloUncertainty,
    Uncertainty,
)

DEFAULT_MODEL_DIR = Path("models/default")
DEFAULT_MASK_DILATION = 3
DEFAULT_MONTE_CARLO_SAMPLES = 16
MAX_UNCERTAINTY_SAMPLES = 32


@dataclasses.dataclass(frozen=True)
class Inpainting:
    """What `Inpainter.inpaint` returns.

    Attributes:
        photo: the inpainted `Photo`: known pixels are the input's, bit for bit.
        uncertainty: an `Uncertainty` (a `MonteCarloUncertainty` for "monte-carlo") when
            a map was asked for and the model has one, else None.
        strategy: what ran ("crop", "tile" or "resize"), or "none" for an empty mask.
    """

    photo: Photo
    uncertainty: Uncertainty | None
    strategy: str

    @property
    def image(self):
        """The result as the photo came: a PIL image in the same mode (EXIF and ICC in its
        `info`) for files and PIL images, an array of the same shape and type for arrays.
        A 16-bit colour file gives a uint16 array, as Pillow cannot hold one."""
        return self.photo.to_output()

    def encode(self, format=None):
        """The result as file bytes, in the photo's own format unless `format` is given."""
        return self.photo.encode(format)

    def save(self, path, format=None):
        """Writes the result; the format comes from `format`, the suffix, or the photo."""
        path = Path(path)
        format = format or Image.registered_extensions().get(path.suffix.lower())
        path.write_bytes(self.encode(format))
        return path


class Inpainter:
    """Fills holes in photos with an exported model, on LiteRT: a partial-convolution U-Net,
    a UNet3+ or a context encoder, as its card says (`Inpainter.architecture`).

    Args:
        model: a loaded `LiteRTModel`.
        limits: the file-size and pixel limits for photos and masks.
        mask_dilation: pixels by which holes grow, to cover the soft edge of what is
            removed.
        seams: a `SeamBlend` for where a diffusion fill takes over from the network's at
            the holes' edges, for the "network" fill; None keeps the network's fill alone.
        synthesis: the `SynthesisConfig` of the "synthesis" fill.
        cost: the `CostModel` that jobs are estimated with, and refused over its budget
            before they run; None for the card's `cost` section (if it has none, jobs
            are bounded only by `limits`).
        validated_uncertainty_only: refuse an uncertainty method that the model's card does
            not offer (its map does not rank the error on the validation set); False runs
            any method the model can, to measure it.

    Example:

    ```python
    from holefill import Inpainter

    inpainter = Inpainter.load("models/default", threads=2)
    result = inpainter.inpaint("photo.jpg", "mask.png", uncertainty="auto")
    result.save("photo-filled.jpg")
    if result.uncertainty is not None:  # the card offers a map for this model
        result.uncertainty.heatmap().save("photo-uncertainty.png")
    ```
    """

    def __init__(
        self,
        model,
        *,
        limits=DEFAULT_LIMITS,
        mask_dilation=DEFAULT_MASK_DILATION,
        seams=DEFAULT_SEAMS,
        synthesis=DEFAULT_SYNTHESIS,
        cost=None,
        validated_uncertainty_only=True,
    ):
        if mask_dilation < 0:
            raise ValueError(f"mask_dilation must be >= 0, got {mask_dilation!r}.")
        self.model = model
        self.limits = limits
        self.mask_dilation = int(mask_dilation)
        self.seams = seams
        self.synthesis = synthesis
        self.cost = cost if cost is not None else CostModel.from_card(model.card)
        self.validated_uncertainty_only = validated_uncertainty_only
        self.uncertainty_card = model.card.uncertainty
        fitted = self.uncertainty_card.methods.get("error-map")
        self.error_map = (
            ErrorMap.from_dict(fitted.error_map) if fitted and fitted.error_map else None
        )

    @classmethod
    def load(
        cls,
        model_dir=DEFAULT_MODEL_DIR,
        *,
        threads=None,
        limits=DEFAULT_LIMITS,
        mask_dilation=DEFAULT_MASK_DILATION,
        seams=DEFAULT_SEAMS,
        synthesis=DEFAULT_SYNTHESIS,
        cost=None,
        validated_uncertainty_only=True,
    ):
        """Loads an exported model folder (`holefill export` writes one).

        Args:
            model_dir: the folder; defaults to `models/default`.
            threads: CPU threads per network run; defaults to every CPU available.
            limits, mask_dilation, seams, synthesis, cost, validated_uncertainty_only: see
                `Inpainter`.
        """
        model = LiteRTModel.load(model_dir, threads=threads)
        return cls(
            model,
            limits=limits,
            mask_dilation=mask_dilation,
            seams=seams,
            synthesis=synthesis,
            cost=cost,
            validated_uncertainty_only=validated_uncertainty_only,
        )

    @property
    def architecture(self):
        """The model's architecture, as its card names it ("pconv", "unet3plus", ...)."""
        return self.model.architecture

    @property
    def offered_uncertainty(self):
        """The uncertainty methods whose maps pass the bar on this model's card."""
        methods = self.uncertainty_card.methods
        return tuple(method for method in METHODS if method in methods and methods[method].offered)

    def inpaint(
        self,
        image,
        mask,
        *,
        strategy="auto",
        fill=DEFAULT_FILL,
        uncertainty=None,
        uncertainty_samples=None,
        seed=None,
    ):
        """Fills the holes that `mask` marks in `image`.

        Args:
            image: a path, the file's bytes, a PIL image, or a numpy array (`(h, w)` or
                `(h, w, 1 | 3 | 4)`, uint8, uint16 or floats in [0, 1]).
            mask: the same kinds; white (or, with transparency, opaque) marks the hole; a
                bool array is True on the hole. Another size is scaled if the aspect ratio
                matches.
            strategy: "auto", "crop", "tile" or "resize" (see `holefill.inference.strategies`).
            fill: "synthesis" (the network's fill refined with the photo's own patches, see
                `holefill.inference.synthesis`) or "network" (the network's alone).
            uncertainty: None (or "none") for no map; "error-map" or "monte-carlo" (see
                `holefill.inference.uncertainty`); "auto" for the best method the card offers, or
                none if it offers none.
            uncertainty_samples: the number N >= 2 of Monte-Carlo dropout samples, for
                "monte-carlo" only (default 16).
            seed: seeds the synthesis's random search (None: 0, so a photo and mask give
                the same fill; another seed gives another plausible one) and the dropout
                draws.

        Returns:
            An `Inpainting`. An empty mask returns the photo unchanged without running
            the network.

        Raises:
            InvalidInputError: (a `ValueError`) for a photo or mask that cannot be used,
                options out of range, or a job over the cost budget; its `code` says which.
        """
        if strategy not in strategies.STRATEGIES:
            raise InvalidInputError(
                "invalid_strategy",
                f"strategy must be one of {', '.join(strategies.STRATEGIES)}, got {strategy!r}",
            )
        if fill not in FILLS:
            raise InvalidInputError(
                "invalid_fill", f"fill must be one of {', '.join(FILLS)}, got {fill!r}"
            )
        method = self.uncertainty_method(uncertainty, uncertainty_samples)
        samples = 0
        if method == "monte-carlo":
            samples = _check_samples(
                DEFAULT_MONTE_CARLO_SAMPLES if uncertainty_samples is None else uncertainty_samples
            )
        opened = open_photo(image, self.limits)
        holes, plan = self._planned(mask, opened.size, strategy, fill, samples)
        photo = opened.decode()
        if photo.size != opened.size:
            # EXIF that follows the pixels (a PNG may have it there) turned the photo.
            holes, plan = self._planned(mask, photo.size, strategy, fill, samples)
        colour = photo.colour()
        if plan is None:
            return Inpainting(photo, _no_uncertainty(method, colour, holes, samples), "none")

        if samples:
            rng = np.random.default_rng(seed)

            def fill_tile(tile, known):
                return np.concatenate(self.model.monte_carlo(tile, known, samples, rng), axis=2)

            channels = 9  # deterministic output, mean, mean square
        else:
            fill_tile, channels = self.model.predict, 3
        index = strategies.HoleIndex(holes)
        values, strategy = strategies.inpaint(
            colour, holes, fill_tile, self.model.tile_size, channels, plan, index
        )
        finished = self._finish(colour, holes, values[:, :3], plan, index, fill, method, seed)
        uncertainty = None
        if samples:
            # Off the holes, the photo's own values: their spread is 0.
            known_colour = strategies.unit_float(colour)
            mean, mean_square = known_colour, np.square(known_colour)
            for moment, part in ((mean, values[:, 3:6]), (mean_square, values[:, 6:9])):
                moment.reshape(-1, 3)[index.flat] = part
            uncertainty = MonteCarloUncertainty.from_moments(mean, mean_square, holes, samples)
        result = photo.with_fill(holes, finished[:, :3])
        if method == "error-map":
            error = np.zeros(holes.shape, np.float32)
            error.reshape(-1)[index.flat] = finished[:, 3]
            uncertainty = Uncertainty("error-map", error, holes, FULL_SCALES["error-map"])
        return Inpainting(photo=result, uncertainty=uncertainty, strategy=strategy)

    def _finish(self, colour, holes, network, plan, index, fill, method, seed):
        """The steps after the network, region by region (`strategies.Region`): the
        synthesis or the seams' blend, and the error map. Returns float32 `(holes, 3)`,
        the fill at the hole pixels in `index` order, and a fourth column, the error
        map's value, under the "error-map" method."""
        columns = 4 if method == "error-map" else 3
        finished = np.zeros((len(index), columns), np.float32)
        weight_sum = np.zeros(len(index), np.float32)
        blends_seams = fill == "network" and self.seams is not None
        for region in plan.regions:
            window = region.window
            region_holes, region_colour = holes[window], colour[window]
            filled = np.zeros((*region_holes.shape, 3), np.float32)
            filled[region_holes] = network[index.of(window, region_holes)]
            # The error map reads the diffusion that the seams blend in: computed once.
            diffusion = None
            if blends_seams or method == "error-map":
                diffusion = diffuse_holes(region_colour, region_holes, self.seams or DEFAULT_SEAMS)
            if fill == "synthesis":
                filled = synthesize(
                    strategies.unit_float(region_colour),
                    region_holes,
                    filled,
                    self.synthesis,
                    seed or 0,
                    extent=holes.shape,
                )
            elif blends_seams:
                filled = blend_seams(region_colour, region_holes, filled, self.seams, diffusion)
            filled = np.clip(filled, 0.0, 1.0)
            own = region.own_holes
            result = filled[own]
            if method == "error-map":
                error = self.error_map.estimate(region_colour, region_holes, filled, diffusion)
                result = np.concatenate([result, error[own][:, None]], axis=1)
            weights = region.weights()
            at = index.of(window, own)
            finished[at] += result * weights[:, None]
            weight_sum[at] += weights
        finished /= weight_sum[:, None]
        return finished

    def plan(self, holes, strategy="auto"):
        """The `strategies.Plan` that `inpaint` runs for `holes` (bool, True = hole)."""
        return strategies.plan(holes, self.model.tile_size, strategy)

    def _planned(self, mask, size, strategy, fill, samples):
        """The holes of `mask` on a photo of `size`, and their plan (None for no holes),
        checked against the cost budget."""
        holes = read_mask(mask, size, limits=self.limits, dilation=self.mask_dilation)
        if holes.all():
            raise InvalidInputError(
                "all_hole_mask",
                "the mask covers the whole photo: there is nothing to fill the hole from",
            )
        if not holes.any():
            return holes, None
        plan = self.plan(holes, strategy)
        if self.cost is not None:
            self.cost.check(Job.of(holes, plan, samples=samples, fill=fill))
        return holes, plan

    def uncertainty_method(self, uncertainty, samples=None):
        """The method that `inpaint`'s `uncertainty` and `uncertainty_samples` run (None
        for no map); raises `InvalidInputError` as `inpaint` does for them."""
        if uncertainty is not None and uncertainty not in CHOICES:
            raise InvalidInputError(
                "invalid_uncertainty",
                f"uncertainty must be one of {', '.join(CHOICES)}, got {uncertainty!r}",
            )
        method = self.uncertainty_card.default if uncertainty == AUTO else uncertainty
        method = None if method == "none" else method
        if samples is not None and method != "monte-carlo":
            raise InvalidInputError(
                "invalid_uncertainty_samples",
                "uncertainty_samples applies to the monte-carlo uncertainty only, "
                f"not to {method or 'none'}",
            )
        if method is None:
            return None
        if method == "monte-carlo":
            self.model.require_monte_carlo()
        if method == "error-map" and self.error_map is None:
            raise InvalidInputError(
                "uncertainty_unavailable",
                "this model's card has no fitted error map: `holefill calibrate-uncertainty` "
                "fits one",
            )
        described = self.uncertainty_card.methods.get(method)
        if self.validated_uncertainty_only and method not in self.offered_uncertainty:
            why = described.why if described else "not offered: it was never validated."
            raise InvalidInputError(
                "uncertainty_unavailable",
                f"this model does not offer the {method} uncertainty map; its card says: {why}",
            )
        return method


def _check_samples(samples):
    if (
        isinstance(samples, bool)
        or not isinstance(samples, int | np.integer)
        or not 2 <= samples <= MAX_UNCERTAINTY_SAMPLES
    ):
        raise InvalidInputError(
            "invalid_uncertainty_samples",
            f"uncertainty_samples must be from 2 to {MAX_UNCERTAINTY_SAMPLES}, got {samples!r}",
        )
    return int(samples)


def _no_uncertainty(method, colour, holes, samples):
    """The map of a photo with nothing to fill: zero everywhere."""
    if method == "monte-carlo":
        known_colour = strategies.unit_float(colour)
        return MonteCarloUncertainty.from_moments(
            known_colour, np.square(known_colour), holes, samples
        )
    if method == "error-map":
        return Uncertainty(method, np.zeros(holes.shape, np.float32), holes, FULL_SCALES[method])
    return None
