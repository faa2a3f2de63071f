"""Mask files read into holes: the one reader of serving, training and evaluation.

A mask follows the file convention of the NVIDIA test masks and the API: white marks the
hole, or, in a mask with transparency, any painted (opaque) pixel does (a brush layer).
Anti-aliased edges are binarised at half the value range; a mask that is mostly mid-grey
is refused, as it is probably a photo. A mask of another size than its photo is scaled
when the aspect ratios agree.
"""

import cv2
import numpy as np

from holefill.errors import InvalidInputError
from holefill.imaging.photos import DEFAULT_LIMITS, read_photo

# A mask with more than this share of pixels between 25% and 75% grey is refused.
MAX_MASK_GREY_SHARE = 0.1


def read_mask(source, size, *, limits=DEFAULT_LIMITS, dilation=0):
    """Decodes a mask file, PIL image or array into holes: bool `(height, width)`, True = hole.

    White marks the hole; in a mask with transparency, an opaque pixel of any colour does
    (a brush layer). A bool array is taken as is (True = hole). A mask of another size is
    scaled when its aspect ratio matches the photo's to within one mask pixel.

    Args:
        source: like `read_photo`'s.
        size: the photo's `(height, width)`.
        limits: applied to the mask file too.
        dilation: grow the hole by this many pixels, to cover the soft edge of an object.

    Raises:
        InvalidInputError: "mask_not_binary" for a mostly grey mask, "mask_size_mismatch"
            for another aspect ratio; and what `read_photo` raises.
    """
    if isinstance(source, np.ndarray) and source.dtype == bool:
        source = source.astype(np.uint8) * 255
    mask = read_photo(source, limits)
    if mask.mode in ("P", "PA", "CMYK"):
        # Palettes keep transparency in the palette: Pillow's RGBA makes it an alpha channel.
        mask = read_photo(mask.to_output().convert("RGBA"), limits)
    alpha = mask.alpha
    if alpha is not None and alpha.min() < mask.full_scale:
        coverage = alpha
    elif mask.pixels.shape[2] < 3:
        coverage = mask.pixels[..., 0]  # gray: no need to spread it over three channels
    else:
        coverage = mask.colour().max(axis=2)
    # Compared as 8-bit levels: masks are mostly 8-bit, and large ones compare faster so.
    levels = _to_8_bit(coverage, mask.full_scale)
    grey_share = np.count_nonzero((levels >= 64) & (levels < 192)) / levels.size
    if grey_share > MAX_MASK_GREY_SHARE:
        raise InvalidInputError(
            "mask_not_binary",
            f"the mask is {grey_share:.0%} mid-grey: a mask is white (or opaque) where the "
            "hole is and black (or transparent) elsewhere; is this a photo?",
        )
    holes = levels >= 128
    if holes.shape != tuple(size):
        holes = _scale_holes(holes, size)
    if dilation:
        diameter = 2 * int(dilation) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter, diameter))
        holes = cv2.dilate(holes.view(np.uint8), kernel).view(bool)
    return holes


def _scale_holes(holes, size):
    height, width = size
    mask_height, mask_width = holes.shape
    # Within one mask pixel: the height the photo's aspect ratio implies for the mask.
    expected_height = mask_width * height / width
    if abs(expected_height - mask_height) > 1.0:
        raise InvalidInputError(
            "mask_size_mismatch",
            f"the mask is {mask_width}x{mask_height} but the photo {width}x{height}: a mask "
            "of another size must have the photo's aspect ratio",
        )
    shrinking = mask_width > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    scaled = cv2.resize(holes.astype(np.float32), (width, height), interpolation=interpolation)
    return scaled >= 0.5


def _to_8_bit(values, full_scale):
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.uint16:
        return (values >> 8).astype(np.uint8)
    return np.round(np.clip(values / full_scale, 0.0, 1.0) * 255).astype(np.uint8)
