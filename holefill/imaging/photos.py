"""Decoding the photos that users send, and encoding results the way they came.

Photos come as files (a path or bytes: JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF, GIF), PIL images or
numpy arrays, in every mode a phone, a camera or an editor writes: bilevel, grayscale
(8 or 16 bit), palette, RGB, CMYK, each with or without alpha, and 16-bit colour, which
OpenCV decodes because Pillow truncates it to 8 bits. EXIF orientation is applied on
load and removed from the EXIF written back, so that viewers do not rotate twice; EXIF
and the ICC profile are kept.

Limits are checked before any pixel is decoded: the file size, then the pixel count from
the header. Pillow's own decompression-bomb guard (`Image.MAX_IMAGE_PIXELS`) is set here
to the same default rather than left to Pillow's.

Masks are decoded as photos, then read into holes by `holefill.imaging.masks`.
"""

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps

from holefill.errors import InputTooLargeError, InvalidInputError, UnsupportedFormatError
from holefill.imaging import deep_colour, metadata

DEFAULT_MAX_FILE_BYTES = 50_000_000
DEFAULT_MAX_PIXELS = 50_000_000
# Pillow warns above this many pixels and refuses twice as many, before decoding.
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS

pillow_heif.register_heif_opener()
# Formats read and written back. Pillow's JPEG reader also opens MPO, the multi-picture
# JPEG that many cameras write; that is written back as a plain JPEG. HEIC and AVIF come
# back as JPEG (PNG with transparency), which every viewer and browser opens.
READ_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "AVIF", "BMP", "TIFF", "GIF")
WRITE_FORMAT = {"MPO": "JPEG", "HEIF": "JPEG", "AVIF": "JPEG"}
JPEG_QUALITY = 95
# Pillow modes that photos may have; "RGB;16" and "RGBA;16" are 16-bit colour, which
# Pillow has no mode for.
GRAY_MODES = ("1", "L", "LA", "I;16", "I;16B", "I;16L")
COLOUR_MODES = ("RGB", "RGBA", "RGB;16", "RGBA;16", "P", "PA", "CMYK")
ALPHA_MODES = ("LA", "PA", "RGBA", "RGBA;16")
# ITU-R 601 luma, the weights of Pillow's own RGB to L conversion.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


@dataclasses.dataclass(frozen=True)
class Limits:
    """What serving accepts; beyond these a request fails before any pixel is decoded.

    Attributes:
        max_file_bytes: the largest encoded file.
        max_pixels: the largest width x height, for photos and masks alike. Raising it
            above `Image.MAX_IMAGE_PIXELS` also needs that raised (Pillow refuses images
            over twice its value on its own).
    """

    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS


DEFAULT_LIMITS = Limits()


@dataclasses.dataclass(frozen=True)
class Photo:
    """A decoded, upright photo, and what it takes to give it back the way it came.

    Attributes:
        pixels: `(height, width, channels)` in the photo's own layout and type: one or two
            channels for the gray modes (value, alpha), palette indices for "P" and "PA",
            colour channels then alpha for the rest.
        mode: the Pillow mode, "RGB;16" / "RGBA;16" for 16-bit colour, or "array".
        kind: what the caller passed: "file", "image" (PIL) or "array".
        format: the file format to write back ("PNG", "JPEG", ...), or None.
        save_options: what Pillow needs to write the metadata back: `exif` (orientation
            removed), `icc_profile`, `transparency`, `dpi`, as present.
        palette: RGB palette entries, `(entries, 3)` uint8, for "P" and "PA".
        array_shape: for arrays, the caller's shape, which the result keeps.
    """

    pixels: np.ndarray
    mode: str
    kind: str
    format: str | None = None
    save_options: dict = dataclasses.field(default_factory=dict)
    palette: np.ndarray | None = None
    array_shape: tuple | None = None

    @property
    def size(self):
        """`(height, width)`."""
        return self.pixels.shape[:2]

    @property
    def full_scale(self):
        """The value of white: 255, 65535, or 1.0 for float arrays."""
        if np.issubdtype(self.pixels.dtype, np.floating):
            return 1.0
        return float(np.iinfo(self.pixels.dtype).max)

    @property
    def alpha(self):
        """The alpha channel, `(height, width)`, or None."""
        if self.mode in ALPHA_MODES or (self.mode == "array" and self.pixels.shape[2] == 4):
            return self.pixels[..., -1]
        return None

    def colour(self):
        """The RGB colour the network sees, `(height, width, 3)` in the photo's own type.

        Gray photos give a broadcast view, palettes a lookup; alpha is left out.
        """
        pixels = self.pixels
        if self.mode in ("P", "PA"):
            return self.palette[pixels[..., 0]]
        if self.mode == "CMYK":
            cmyk = Image.frombytes("CMYK", pixels.shape[1::-1], pixels.tobytes())
            return np.asarray(cmyk.convert("RGB"))
        if pixels.shape[2] >= 3:
            return pixels[..., :3]
        return np.broadcast_to(pixels[..., :1], (*pixels.shape[:2], 3))

    def with_fill(self, holes, colours):
        """A copy where the hole pixels take `colours`; every other value is kept bit for
        bit.

        Args:
            holes: bool `(height, width)`, True where the hole is.
            colours: float `(holes, 3)` RGB in [0, 1], one row per hole pixel in row-major
                order (a full-size fill would cost a float copy of the whole photo).
        """
        pixels = self.pixels.copy()
        colours = np.clip(colours, 0.0, 1.0)
        if self.mode in ("P", "PA"):
            pixels[holes, 0] = _nearest_palette_entries(colours, self.palette)
        elif self.mode == "CMYK":
            rgb = Image.fromarray(_quantise(colours, 255.0, np.uint8)[None])
            pixels[holes] = np.asarray(rgb.convert("CMYK"))[0]
        elif pixels.shape[2] >= 3:
            pixels[holes, :3] = _quantise(colours, self.full_scale, pixels.dtype)
        else:
            pixels[holes, 0] = _quantise(colours @ LUMA_WEIGHTS, self.full_scale, pixels.dtype)
        return dataclasses.replace(self, pixels=pixels)

    def to_output(self):
        """The photo as the caller gave it: a PIL image, or an array of the same shape.

        16-bit colour from a file becomes a uint16 array, as Pillow cannot hold it.
        """
        if self.kind == "array":
            return self.pixels.reshape(self.array_shape)
        if self.mode in ("RGB;16", "RGBA;16"):
            return self.pixels
        return self._to_pil()

    def encode(self, format=None):
        """The photo as a file in `format` (default: its own), with its metadata.

        JPEG is written at quality 95, WebP losslessly; 16-bit colour as PNG or TIFF; float
        arrays as 8 bits.
        """
        format = (format or self.format or "PNG").upper()
        format = WRITE_FORMAT.get(format, format)
        photo = self._in_file_mode()
        if photo.mode in ("RGB;16", "RGBA;16"):
            return deep_colour.encode(photo.pixels, photo.save_options, format)
        image = photo._to_pil()
        options = dict(self.save_options)
        if format == "JPEG":
            options.update(quality=JPEG_QUALITY)
            if image.mode not in ("1", "L", "RGB", "CMYK"):
                image = image.convert("RGB")
        elif format == "WEBP":
            options.update(lossless=True)
        elif format == "TIFF":
            options.update(compression="tiff_lzw")
        buffer = io.BytesIO()
        try:
            image.save(buffer, format=format, **options)
        except (OSError, KeyError, ValueError) as error:
            raise UnsupportedFormatError(
                "unsupported_output", f"cannot write a {image.mode} image as {format}: {error}"
            ) from error
        return buffer.getvalue()

    def _in_file_mode(self):
        """An array photo as a photo in the matching file mode; others as they are."""
        if self.mode != "array":
            return self
        pixels = self.pixels
        if np.issubdtype(pixels.dtype, np.floating):
            pixels = _quantise(pixels, 255.0, np.uint8)
        modes = {1: "I;16", 3: "RGB;16", 4: "RGBA;16"} if pixels.dtype == np.uint16 else {}
        mode = modes.get(pixels.shape[2]) or {1: "L", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
        return dataclasses.replace(self, pixels=pixels, mode=mode)

    def _to_pil(self):
        pixels = self.pixels
        height, width = self.size
        if self.mode == "1":
            image = Image.fromarray(pixels[..., 0] >= 128)
        elif self.mode.startswith("I;16"):
            image = Image.frombytes("I;16", (width, height), pixels.astype("<u2").tobytes())
        else:
            image = Image.frombytes(self.mode, (width, height), pixels.tobytes())
        if self.palette is not None:
            image.putpalette(self.palette.tobytes())
        image.info.update(self.save_options)
        return image


@dataclasses.dataclass(frozen=True)
class OpenedPhoto:
    """A photo whose header is read and within the limits, not yet decoded.

    Attributes:
        size: `(height, width)` of the upright photo, as `decode()` will give it.
    """

    size: tuple[int, int]
    _decode: Callable[[], "Photo"]

    def decode(self):
        """The `Photo`; raises `InvalidInputError` for damaged data."""
        return self._decode()


def open_photo(source, limits=DEFAULT_LIMITS):
    """Reads a photo's header: a path, the file's bytes, a PIL image or a numpy array.

    What a job costs is known from the header: it is checked before any pixel is decoded.
    See `read_photo` for the sources and errors; `decode()` raises `InvalidInputError` for
    a damaged file.
    """
    if isinstance(source, np.ndarray):
        photo = _photo_from_array(source, limits)
        return OpenedPhoto(photo.size, lambda: photo)
    if isinstance(source, Image.Image):
        _check_pixels(source.size, limits)

        def decode_image():
            _load(source)
            return _photo_from_pil(source, kind="image")

        return OpenedPhoto(_upright_size(source), decode_image)
    data = _read_bytes(source, limits)
    image = _open(data, limits)
    # `is_animated` reads whether a second frame exists; `n_frames` would walk every
    # frame, which for a TIFF of 200,000 pages takes minutes.
    if getattr(image, "is_animated", False):
        raise UnsupportedFormatError(
            "animated_image",
            "the image has several frames (an animation or a multi-page file); Holefill "
            "fills one still photo: save the frame you want as a still image and open that",
        )

    def decode_file():
        if deep_colour.is_16_bit_colour(image):
            return _decode_16_bit_colour(image, data)
        _load(image)
        return _photo_from_pil(image, kind="file")

    return OpenedPhoto(_upright_size(image), decode_file)


def read_photo(source, limits=DEFAULT_LIMITS):
    """Decodes a photo: a path, the file's bytes, a PIL image or a numpy array.

    Arrays are `(height, width)` or `(height, width, 1 | 3 | 4)` of uint8, uint16 or
    floats in [0, 1]; channels are gray, RGB or RGBA.

    Raises:
        InputTooLargeError: beyond `limits`.
        UnsupportedFormatError: not an image of a format or mode Holefill handles.
        InvalidInputError: a damaged file.
    """
    return open_photo(source, limits).decode()


def _upright_size(image):
    """`(height, width)` once the EXIF orientation is applied (5 to 8 turn the photo)."""
    width, height = image.size
    turned = metadata.header_orientation(image) in (5, 6, 7, 8)
    return (width, height) if turned else (height, width)


def _read_bytes(source, limits):
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | Path):
        path = Path(source)
        try:
            file_size = path.stat().st_size
        except OSError as error:
            raise InvalidInputError("unreadable_file", f"cannot read {path}: {error}") from error
        _check_file_size(file_size, limits)
        data = path.read_bytes()
    else:
        raise UnsupportedFormatError(
            "unsupported_input",
            f"cannot read an image from a {type(source).__name__}: pass a path, the file's "
            "bytes, a PIL image or a numpy array",
        )
    _check_file_size(len(data), limits)
    return data


def _check_file_size(file_size, limits):
    if file_size > limits.max_file_bytes:
        raise InputTooLargeError(
            "file_too_large",
            f"the file has {file_size / 1e6:.1f} MB; the limit is "
            f"{limits.max_file_bytes / 1e6:.1f} MB",
        )


def _check_pixels(size, limits):
    width, height = size
    if width * height > limits.max_pixels:
        raise InputTooLargeError(
            "too_many_pixels",
            f"the image has {width}x{height} = {width * height / 1e6:.1f} megapixels; the "
            f"limit is {limits.max_pixels / 1e6:.1f}",
        )


def _open(data, limits):
    """Reads the header only, and checks the pixel budget before anything is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=READ_FORMATS)
    except Image.DecompressionBombError as error:
        raise InputTooLargeError("too_many_pixels", str(error)) from error
    except Image.UnidentifiedImageError as error:
        # Pillow's AVIF reader refuses sizes libavif will not decode without saying why;
        # a claimed size over the limit is said to be that.
        _check_pixels(_heif_header_size(data) or (0, 0), limits)
        raise UnsupportedFormatError(
            "unsupported_format",
            f"not an image in a supported format ({', '.join(READ_FORMATS)})",
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidInputError("unreadable_image", f"cannot read the image: {error}") from error
    _check_pixels(image.size, limits)
    return image


def _heif_header_size(data):
    """The size an AVIF or HEIF file's header claims, or None for other data."""
    try:
        return pillow_heif.open_heif(data).size
    except (RuntimeError, ValueError, OSError):
        return None


def _load(image):
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        # Truncated or damaged data: Pillow raises OSError, SyntaxError or ValueError.
        raise InvalidInputError("unreadable_image", f"cannot decode the image: {error}") from error


def _photo_from_pil(image, *, kind):
    # Files are ours to turn in place; a caller's image is copied (and left as it was).
    save_options = metadata.save_options(image)
    if kind == "file":
        ImageOps.exif_transpose(image, in_place=True)
        upright = image
    else:
        upright = ImageOps.exif_transpose(image)
    mode = upright.mode
    if mode not in GRAY_MODES + COLOUR_MODES:
        raise UnsupportedFormatError(
            "unsupported_mode",
            f"images in mode {mode!r} are not supported: save the photo as 8- or 16-bit "
            "gray, RGB, RGBA, palette or CMYK",
        )
    pixels = np.asarray(upright)
    if mode == "1":
        pixels = pixels.astype(np.uint8) * 255
    elif mode.startswith("I;16"):
        pixels = pixels.astype(np.uint16)
    palette = None
    if mode in ("P", "PA"):
        palette = np.asarray(upright.getpalette("RGB"), np.uint8).reshape(-1, 3)
    return Photo(
        pixels=pixels.reshape(*pixels.shape[:2], -1),
        mode=mode,
        kind=kind,
        format=_write_format(image.format, mode),
        save_options=save_options,
        palette=palette,
    )


def _write_format(read_format, mode):
    written = WRITE_FORMAT.get(read_format, read_format)
    if written == "JPEG" and read_format != "JPEG" and mode in ALPHA_MODES:
        return "PNG"
    return written


def _decode_16_bit_colour(image, data):
    orientation = image.getexif().get(metadata.EXIF_ORIENTATION, 1)
    pixels = deep_colour.decode(data, orientation)
    return Photo(
        pixels=pixels,
        mode="RGBA;16" if pixels.shape[2] == 4 else "RGB;16",
        kind="file",
        format=image.format,
        save_options=metadata.save_options(image),
    )


def _photo_from_array(array, limits):
    if array.ndim == 2:
        pixels = array[..., None]
    elif array.ndim == 3 and array.shape[2] in (1, 3, 4):
        pixels = array
    else:
        raise UnsupportedFormatError(
            "unsupported_array",
            f"an image array is (height, width) or (height, width, 1, 3 or 4 channels), got "
            f"shape {array.shape}",
        )
    if array.dtype not in (np.uint8, np.uint16, np.float32, np.float64):
        raise UnsupportedFormatError(
            "unsupported_array",
            f"an image array is uint8, uint16, float32 or float64, got {array.dtype}",
        )
    if np.issubdtype(array.dtype, np.floating) and not (
        np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0
    ):
        raise InvalidInputError("invalid_array", "a float image array must lie in [0, 1]")
    _check_pixels(array.shape[1::-1], limits)
    return Photo(pixels=pixels, mode="array", kind="array", array_shape=array.shape)


def _quantise(values, full_scale, dtype):
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype)
    return np.round(values * full_scale).astype(dtype)


def _nearest_palette_entries(colours, palette):
    """The index of the nearest palette colour for each RGB colour in [0, 1]."""
    targets = colours * 255.0
    entries = palette.astype(np.float32)
    # Blocks keep the (colours x entries) distance table small.
    indices = np.empty(len(targets), np.uint8)
    block = max(1, 4_000_000 // max(1, len(entries)))
    for start in range(0, len(targets), block):
        chunk = targets[start : start + block]
        distances = ((chunk[:, None, :] - entries[None, :, :]) ** 2).sum(axis=2)
        indices[start : start + block] = distances.argmin(axis=1)
    return indices
