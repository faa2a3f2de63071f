"""16-bit colour files, through OpenCV: Pillow reads them truncated to 8 bits and cannot
write them. Gray 16-bit files are Pillow's own ("I;16")."""

import cv2
import numpy as np

from holefill.errors import InvalidInputError, UnsupportedFormatError


def is_16_bit_colour(image):
    """Whether a PIL image, opened but not loaded, is 16-bit RGB or RGBA in its file."""
    if image.mode not in ("RGB", "RGBA") or not image.tile:
        return False
    # The decoder's raw mode is the only place Pillow records the file's bit depth.
    arguments = image.tile[0].args
    raw_mode = arguments if isinstance(arguments, str) else arguments[0]
    return ";16" in str(raw_mode)


def decode(data, orientation):
    """The file's pixels, uint16 `(height, width, 3 | 4)` RGB(A), turned upright by the EXIF
    `orientation` (1 to 8)."""
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16 or pixels.ndim != 3:
        raise InvalidInputError("unreadable_image", "cannot decode the 16-bit colour image")
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return np.ascontiguousarray(orient(cv2.cvtColor(pixels, code), orientation))


def orient(pixels, orientation):
    """Applies an EXIF orientation (1 to 8) to an array, as `ImageOps.exif_transpose` does."""
    transposed = pixels.swapaxes(0, 1)
    return {
        2: lambda: pixels[:, ::-1],
        3: lambda: pixels[::-1, ::-1],
        4: lambda: pixels[::-1],
        5: lambda: transposed,
        6: lambda: transposed[:, ::-1],
        7: lambda: transposed[::-1, ::-1],
        8: lambda: transposed[::-1],
    }.get(orientation, lambda: pixels)()


def encode(pixels, save_options, format):
    """uint16 RGB(A) `pixels` as a PNG (with the `exif` and `icc_profile` of Pillow's
    `save_options`) or a TIFF."""
    code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
    pixels = cv2.cvtColor(pixels, code)
    if format == "TIFF":
        # OpenCV writes no metadata into TIFF files; the pixels are what matters most.
        written, buffer = cv2.imencode(".tiff", pixels)
    elif format == "PNG":
        metadata = {}
        if "exif" in save_options:
            # PNG's eXIf chunk holds the TIFF structure without JPEG's "Exif\0\0" prefix.
            metadata[cv2.IMAGE_METADATA_EXIF] = save_options["exif"].removeprefix(b"Exif\x00\x00")
        if "icc_profile" in save_options:
            metadata[cv2.IMAGE_METADATA_ICCP] = save_options["icc_profile"]
        chunks = [np.frombuffer(chunk, np.uint8) for chunk in metadata.values()]
        written, buffer = cv2.imencodeWithMetadata(".png", pixels, list(metadata), chunks)
    else:
        raise UnsupportedFormatError(
            "unsupported_output", f"16-bit colour can be written as PNG or TIFF, not {format}"
        )
    if not written:
        raise UnsupportedFormatError("unsupported_output", f"OpenCV could not write {format}")
    return buffer.tobytes()
