"""`Inpainter`: a photo and a mask in, the photo with its hole filled out.

The serving path, one module per step, none of which imports TensorFlow or Keras:

    decode, validate   photos.read_photo, photos.read_mask   (limits, EXIF, modes, masks)
    preprocess         strategies.inpaint                     (crop, tile or resize)
    model              runtime.LiteRTModel                    (tiles, Monte-Carlo samples)
    postprocess        seams.blend_seams, Photo.with_fill,    (holes only, bit-exact rest)
                       Uncertainty
    encode             Photo.encode                           (same format and metadata)
"""

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from holefill import strategies
from holefill.errors import InvalidInputError
from holefill.photos import DEFAULT_LIMITS, Photo, read_mask, read_photo
from holefill.runtime import LiteRTModel
from holefill.seams import DEFAULT_SEAMS, blend_seams
from holefill.uncertainty import Uncertainty

DEFAULT_MODEL_DIR = Path("models/default")
DEFAULT_MASK_DILATION = 3
MAX_UNCERTAINTY_SAMPLES = 256


@dataclasses.dataclass(frozen=True)
class Inpainting:
    """What `Inpainter.inpaint` returns.

    Attributes:
        photo: the inpainted `Photo`: known pixels are the input's, bit for bit.
        uncertainty: an `Uncertainty` when samples were asked for, else None.
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
            the holes' edges; None keeps the network's fill alone.

    Example:

    ```python
    from holefill import Inpainter

    inpainter = Inpainter.load("models/default", threads=2)
    result = inpainter.inpaint("photo.jpg", "mask.png", uncertainty_samples=16)
    result.save("photo-filled.jpg")
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
    ):
        if mask_dilation < 0:
            raise ValueError(f"mask_dilation must be >= 0, got {mask_dilation!r}.")
        self.model = model
        self.limits = limits
        self.mask_dilation = int(mask_dilation)
        self.seams = seams

    @classmethod
    def load(
        cls,
        model_dir=DEFAULT_MODEL_DIR,
        *,
        threads=None,
        limits=DEFAULT_LIMITS,
        mask_dilation=DEFAULT_MASK_DILATION,
        seams=DEFAULT_SEAMS,
    ):
        """Loads an exported model folder (`holefill export` writes one).

        Args:
            model_dir: the folder; defaults to `models/default`.
            threads: CPU threads per network run; defaults to every CPU available.
            limits: see `Inpainter`.
            mask_dilation, seams: see `Inpainter`.
        """
        model = LiteRTModel.load(model_dir, threads=threads)
        return cls(model, limits=limits, mask_dilation=mask_dilation, seams=seams)

    @property
    def architecture(self):
        """The model's architecture, as its card names it ("pconv", "unet3plus", ...)."""
        return self.model.architecture

    @property
    def supports_uncertainty(self):
        """Whether the model has dropout, which uncertainty samples need."""
        return self.model.supports_uncertainty

    def inpaint(self, image, mask, *, strategy="auto", uncertainty_samples=0, seed=None):
        """Fills the holes that `mask` marks in `image`.

        Args:
            image: a path, the file's bytes, a PIL image, or a numpy array (`(h, w)` or
                `(h, w, 1 | 3 | 4)`, uint8, uint16 or floats in [0, 1]).
            mask: the same kinds; white (or, with transparency, opaque) marks the hole; a
                bool array is True on the hole. Another size is scaled if the aspect ratio
                matches.
            strategy: "auto", "crop", "tile" or "resize" (see `holefill.strategies`).
            uncertainty_samples: 0 for none, else the number N >= 2 of Monte-Carlo
                dropout samples behind `Inpainting.uncertainty`.
            seed: seeds the dropout draws, for reproducible uncertainty.

        Returns:
            An `Inpainting`. An empty mask returns the photo unchanged without running
            the network.

        Raises:
            InvalidInputError: (a `ValueError`) for a photo or mask that cannot be used,
                or options out of range; its `code` says which.
        """
        if strategy not in strategies.STRATEGIES:
            raise InvalidInputError(
                "invalid_strategy",
                f"strategy must be one of {', '.join(strategies.STRATEGIES)}, got {strategy!r}",
            )
        samples = _check_samples(uncertainty_samples)
        if samples:
            self.model.require_monte_carlo()  # before decoding anything
        photo = read_photo(image, self.limits)
        holes = read_mask(mask, photo.size, limits=self.limits, dilation=self.mask_dilation)
        if holes.all():
            raise InvalidInputError(
                "all_hole_mask",
                "the mask covers the whole photo: there is nothing to fill the hole from",
            )
        colour = photo.colour()
        if not holes.any():
            uncertainty = _no_uncertainty(colour, holes, samples) if samples else None
            return Inpainting(photo=photo, uncertainty=uncertainty, strategy="none")

        if samples:
            rng = np.random.default_rng(seed)

            def fill_tile(tile, known):
                return np.concatenate(self.model.monte_carlo(tile, known, samples, rng), axis=2)

            channels = 9  # deterministic output, mean, mean square
        else:
            fill_tile, channels = self.model.predict, 3
        values, strategy = strategies.inpaint(
            colour, holes, fill_tile, self.model.tile_size, channels, strategy
        )
        uncertainty = None
        if samples:
            known_colour = strategies.unit_float(colour)
            mean = np.where(holes[..., None], values[..., 3:6], known_colour)
            mean_square = np.where(holes[..., None], values[..., 6:9], np.square(known_colour))
            uncertainty = Uncertainty.from_moments(mean, mean_square, holes, samples)
        fill = values[..., :3]
        if self.seams is not None:
            fill = blend_seams(colour, holes, fill, self.seams)
        result = photo.with_fill(holes, fill)
        return Inpainting(photo=result, uncertainty=uncertainty, strategy=strategy)


def _check_samples(samples):
    if (
        isinstance(samples, bool)
        or not isinstance(samples, int | np.integer)
        or samples == 1
        or not 0 <= samples <= MAX_UNCERTAINTY_SAMPLES
    ):
        raise InvalidInputError(
            "invalid_uncertainty_samples",
            f"uncertainty_samples must be 0 (none) or from 2 to {MAX_UNCERTAINTY_SAMPLES}, "
            f"got {samples!r}",
        )
    return int(samples)


def _no_uncertainty(colour, holes, samples):
    known_colour = strategies.unit_float(colour)
    return Uncertainty.from_moments(known_colour, np.square(known_colour), holes, samples)
