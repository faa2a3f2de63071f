"""Mask files (white = hole, as in the NVIDIA test set) read into the library convention."""

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from holefill.imaging.arrays import DECODE_ERRORS
from holefill.masks.canvas import check_size, to_mask


def load_mask_file(path, *, hole_is="white", size=None):
    """Reads a mask file and converts it to the library convention (1 = known, 0 = hole).

    The file is binarised at half its value range, so anti-aliased or JPEG-blurred edges go
    to the nearer side. Colour files use each pixel's brightest channel, so a red or white
    stroke is "white". An alpha channel is taken as coverage: fully transparent pixels count
    as known (unpainted) whatever colour they store, which makes a brush layer exported
    with a transparent background work with either polarity.

    Args:
        path: the mask file (any format Pillow reads, 8 or 16 bits).
        hole_is: "white" if white pixels are holes (the NVIDIA convention) or "black".
        size: optional `(height, width)` to resize to, with nearest-neighbour sampling so
            that the mask stays binary.

    Returns:
        A float32 mask of shape `(height, width, 1)`.
    """
    if hole_is not in ("white", "black"):
        raise ValueError(f'hole_is must be "white" or "black", got {hole_is!r}')
    image = open_image(path)
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA") and not image.mode.startswith("I"):
        # Palettes (with their transparency), CMYK and the like become plain RGBA.
        image = image.convert("RGBA")
    bands = image.getbands()
    values = np.asarray(image).reshape(image.height, image.width, len(bands))
    full_scale = {np.dtype(bool): 1, np.dtype(np.uint8): 255}.get(values.dtype, 65535)
    values = values.astype(np.float32) / full_scale
    colour = np.delete(values, bands.index("A"), axis=-1) if "A" in bands else values
    brightness = colour.max(axis=-1)
    if "A" in bands:
        # Composite over the "known" colour: black when holes are white, and vice versa.
        alpha = values[..., bands.index("A")]
        known_colour = 0.0 if hole_is == "white" else 1.0
        brightness = alpha * brightness + (1.0 - alpha) * known_colour
    holes = brightness >= 0.5 if hole_is == "white" else brightness < 0.5
    holes = holes.astype(np.uint8)
    if size is not None:
        height, width = size
        check_size(height, width)
        # INTER_NEAREST_EXACT samples pixel centres like Pillow; plain INTER_NEAREST is
        # shifted by half a pixel.
        holes = cv2.resize(holes, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    return to_mask(holes)


def open_image(source):
    """Decodes an image fully and turns it upright according to its EXIF orientation.

    Args:
        source: a path (`str` or `pathlib.Path`) or the encoded bytes of the file.

    Returns:
        A `PIL.Image.Image` in the file's own mode (e.g. "L", "RGBA", "I;16").

    Raises:
        ValueError: if the image cannot be read, including truncated files.
    """
    if isinstance(source, bytes | bytearray):
        name = "<bytes>"
        stream = io.BytesIO(source)
    elif isinstance(source, str | Path):
        name = str(source)
        stream = source
    else:
        raise ValueError(
            f"cannot read image from a {type(source).__name__}: pass a path (str or "
            "pathlib.Path) or the file's bytes"
        )
    try:
        with Image.open(stream) as image:
            # `Image.open` only reads the header: `load` decodes the pixel data, so that a
            # truncated file fails here rather than later in some other function.
            image.load()
            return ImageOps.exif_transpose(image)
    except DECODE_ERRORS as error:
        raise ValueError(f"cannot read image {name}: {error}") from error
