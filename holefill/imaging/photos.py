"""Decoding the photos and masks that users send, and encoding results the way they came.

Photos come as files (a path or bytes: JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF, GIF), PIL images or
numpy arrays, in every mode a phone, a camera or an editor writes: bilevel, grayscale
(8 or 16 bit), palette, RGB, CMYK, each with or without alpha, and 16-bit colour, which
OpenCV decodes because Pillow truncates it to 8 bits. EXIF orientation is applied on
load and removed from the EXIF written back, so that viewers do not rotate twice; EXIF
and the ICC profile are kept.

Limits are checked before any pixel is decoded: the file size, then the pixel count from
the header. Pillow's own decompression-bomb guard (`Image.MAX_IMAGE_PIXELS`) is set here
to the same default rather than left to Pillow's.

Masks follow the file convention: white marks the hole, or, in a mask with transparency,
any painted (opaque) pixel does. Anti-aliased edges are binarised at half the value range;
a mask that is mostly mid-grey is refused, as it is probably a photo.
"""

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageOps

from holefill.errors import InputTooLargeError, InvalidInputError, UnsupportedFormatError

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
# A mask with more than this share of pixels between 25% and 75% grey is refused.
MAX_MASK_GREY_SHARE = 0.1
# TIFF tags that describe the file's own layout: copying them from another file's EXIF
# into a new TIFF would corrupt it (Pillow would write the old size and offsets).
TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322}
    | {323, 324, 325, 338, 339, 340, 341, 530, 532, 34675}
)
EXIF_ORIENTATION = 0x0112
EXIF_DIRECTORIES = (0x8769, 0x8825)  # the Exif and GPS sub-directories


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
            return _encode_16_bit_colour(photo, format)
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
        if _is_16_bit_colour(image):
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
    turned = _header_orientation(image) in (5, 6, 7, 8)
    return (width, height) if turned else (height, width)


def _header_orientation(image):
    # Pillow's TIFF reader gives the upright size already (it turns the photo as it
    # loads), and `getexif()` would decode a PNG to look for EXIF after its pixels.
    if image.format == "TIFF" or "exif" not in image.info:
        return None
    exif = Image.Exif()
    exif.load(image.info["exif"])
    return exif.get(EXIF_ORIENTATION)


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
        mask = _photo_from_pil(mask._to_pil().convert("RGBA"), kind=mask.kind)
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
    save_options = _save_options(image)
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


def _save_options(image):
    """The metadata to write back: EXIF without orientation, ICC, transparency, dpi.

    `image` is the file as opened, before `exif_transpose` (which drops the orientation
    but, for TIFF, keeps the layout tags of the unrotated file).
    """
    options = {
        key: image.info[key]
        for key in ("icc_profile", "transparency", "dpi")
        if image.info.get(key) is not None
    }
    source = image.getexif()
    dropped = {EXIF_ORIENTATION, *EXIF_DIRECTORIES}
    if image.format == "TIFF":
        dropped |= TIFF_LAYOUT_TAGS
    exif = Image.Exif()
    for tag, value in source.items():
        if tag not in dropped:
            exif[tag] = value
    # The sub-directories are copied as dictionaries: their offsets point into the source.
    for directory in EXIF_DIRECTORIES:
        if directory in source:
            exif.get_ifd(directory).update(source.get_ifd(directory))
    if len(exif):
        options["exif"] = exif.tobytes()
    return options


def _is_16_bit_colour(image):
    if image.mode not in ("RGB", "RGBA") or not image.tile:
        return False
    # The decoder's raw mode is the only place Pillow records the file's bit depth.
    arguments = image.tile[0].args
    raw_mode = arguments if isinstance(arguments, str) else arguments[0]
    return ";16" in str(raw_mode)


def _decode_16_bit_colour(image, data):
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16 or pixels.ndim != 3:
        raise InvalidInputError("unreadable_image", "cannot decode the 16-bit colour image")
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    pixels = cv2.cvtColor(pixels, code)
    pixels = _orient(pixels, image.getexif().get(EXIF_ORIENTATION, 1))
    return Photo(
        pixels=np.ascontiguousarray(pixels),
        mode="RGBA;16" if pixels.shape[2] == 4 else "RGB;16",
        kind="file",
        format=image.format,
        save_options=_save_options(image),
    )


def _orient(pixels, orientation):
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


def _encode_16_bit_colour(photo, format):
    code = cv2.COLOR_RGBA2BGRA if photo.pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
    pixels = cv2.cvtColor(photo.pixels, code)
    if format == "TIFF":
        # OpenCV writes no metadata into TIFF files; the pixels are what matters most.
        written, buffer = cv2.imencode(".tiff", pixels)
    elif format == "PNG":
        metadata = {}
        if "exif" in photo.save_options:
            # PNG's eXIf chunk holds the TIFF structure without JPEG's "Exif\0\0" prefix.
            exif = photo.save_options["exif"]
            metadata[cv2.IMAGE_METADATA_EXIF] = exif.removeprefix(b"Exif\x00\x00")
        if "icc_profile" in photo.save_options:
            metadata[cv2.IMAGE_METADATA_ICCP] = photo.save_options["icc_profile"]
        chunks = [np.frombuffer(chunk, np.uint8) for chunk in metadata.values()]
        written, buffer = cv2.imencodeWithMetadata(".png", pixels, list(metadata), chunks)
    else:
        raise UnsupportedFormatError(
            "unsupported_output", f"16-bit colour can be written as PNG or TIFF, not {format}"
        )
    if not written:
        raise UnsupportedFormatError("unsupported_output", f"OpenCV could not write {format}")
    return buffer.tobytes()


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
