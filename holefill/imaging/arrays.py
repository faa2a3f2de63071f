"""Reading photos, converting them between uint8 and float32, and side-by-side grids.

Every training and evaluation photo enters the library through `load_rgb`, which decodes
it as serving does (`holefill.imaging.photos`), so that EXIF orientation, odd colour modes,
16-bit colour and broken files are dealt with in one place.
"""

import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from holefill.errors import InvalidInputError
from holefill.imaging.photos import Limits, read_photo

# Datasets are the developer's own files: no byte limit, and no pixel limit but Pillow's
# own refusal of decompression bombs (above twice `Image.MAX_IMAGE_PIXELS`).
DATASET_LIMITS = Limits(max_file_bytes=2**62, max_pixels=2 * Image.MAX_IMAGE_PIXELS)

# What Pillow raises on a file it cannot decode: unknown formats and missing files are
# `OSError`s, truncated data is an `OSError` or a `SyntaxError`, broken EXIF blocks can raise
# `struct.error` or `ValueError`, and oversized images raise `DecompressionBombError`.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError)


def has_image_header(path):
    """Whether Pillow recognises a file as an image; cheap, as it reads only the header."""
    try:
        with Image.open(path):
            return True
    except DECODE_ERRORS:
        return False


def load_rgb(source):
    """Reads a photo as an upright RGB uint8 array, decoded as serving decodes it
    (`holefill.imaging.photos`: EXIF orientation, 16-bit colour, CMYK, palettes, HEIC).

    Gray, palette, CMYK and 16-bit photos become 8-bit RGB (16 bits rescaled, not clipped).
    An alpha channel is dropped: transparent pixels keep whatever colour they store.

    Args:
        source: a path (`str` or `pathlib.Path`) or the encoded bytes of the file.

    Returns:
        A uint8 array of shape `(height, width, 3)`.

    Raises:
        ValueError: if the image cannot be read, including truncated files.
    """
    if isinstance(source, bytes | bytearray):
        name = "<bytes>"
    elif isinstance(source, str | Path):
        name = str(source)
    else:
        raise ValueError(
            f"cannot read image from a {type(source).__name__}: pass a path (str or "
            "pathlib.Path) or the file's bytes"
        )
    try:
        colour = read_photo(source, DATASET_LIMITS).colour()
    except InvalidInputError as error:
        raise ValueError(f"cannot read image {name}: {error.message}") from error
    if colour.dtype == np.uint16:
        colour = np.round(colour / 257.0)
    return np.ascontiguousarray(colour, dtype=np.uint8)


def to_float(image):
    """Converts a uint8 image to float32 in [0, 1].

    Args:
        image: a uint8 array of any shape.

    Returns:
        A float32 array of the same shape.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"to_float expects a uint8 array, got dtype {image.dtype}")
    return image.astype(np.float32) / 255.0


def to_uint8(image):
    """Converts a float image in [0, 1] to uint8, rounding and clipping out-of-range values.

    Args:
        image: a floating-point array of any shape; model outputs may stray outside [0, 1].

    Returns:
        A uint8 array of the same shape.
    """
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"to_uint8 expects a floating-point array, got dtype {image.dtype}")
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def comparison_grid(masked_images, masks, outputs, truths):
    """A uint8 grid with one row per sample: the input with its holes shown white, the
    mask, each of `outputs` composited into the known pixels, and the truth.

    Args:
        masked_images, masks, truths: float arrays `(N, S, S, 3)`, `(N, S, S, 1)` (1 = known)
            and `(N, S, S, 3)` in [0, 1].
        outputs: a sequence of float arrays `(N, S, S, 3)`, one per column.
    """
    rows = []
    for index, (image, mask, truth) in enumerate(zip(masked_images, masks, truths, strict=True)):
        filled = [
            mask * truth + (1.0 - mask) * np.clip(output[index], 0.0, 1.0) for output in outputs
        ]
        shown_input = image * mask + (1.0 - mask)
        rows.append(np.concatenate([shown_input, np.repeat(mask, 3, -1), *filled, truth], 1))
    return to_uint8(np.concatenate(rows, 0))


def short_side_at_least(photo, size):
    """Scales a photo up, keeping its aspect ratio, if its short side is below `size`."""
    height, width = photo.shape[:2]
    if min(height, width) >= size:
        return photo
    factor = size / min(height, width)
    new_size = (max(size, round(width * factor)), max(size, round(height * factor)))
    return cv2.resize(photo, new_size, interpolation=cv2.INTER_CUBIC)


def centre_crop(photo, size):
    photo = short_side_at_least(photo, size)
    top = (photo.shape[0] - size) // 2
    left = (photo.shape[1] - size) // 2
    return photo[top : top + size, left : left + size]
