"""Decoding and encoding every kind of photo and mask, from small generated files."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from holefill.errors import InputTooLargeError, InvalidInputError, UnsupportedFormatError
from holefill.imaging.masks import read_mask
from holefill.imaging.metadata import EXIF_ORIENTATION
from holefill.imaging.photos import Limits, open_photo, read_photo

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def gradient(height=24, width=40, channels=3, dtype=np.uint8):
    """A photo whose every pixel differs from its neighbours, so rotations are visible."""
    rows, columns = np.mgrid[0:height, 0:width]
    top = np.iinfo(dtype).max
    planes = [(rows * 7 + columns * 3 + 37 * channel) % 251 for channel in range(channels)]
    return (np.stack(planes, axis=-1) * (top // 251)).astype(dtype)


def encode(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def exif_with(orientation=None, make="Holefill test camera"):
    exif = Image.Exif()
    exif[0x010F] = make
    if orientation:
        exif[EXIF_ORIENTATION] = orientation
    return exif


def holes_in(size, top=4, left=6, height=8, width=10):
    holes = np.zeros(size, bool)
    holes[top : top + height, left : left + width] = True
    return holes


def fill(holes, colour):
    """A fill of one colour (RGB in [0, 1]) for every hole pixel."""
    return np.broadcast_to(np.float32(colour), (np.count_nonzero(holes), 3))


def reload(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_jpeg_orientation_is_applied_and_exif_and_icc_are_kept():
    pixels = gradient()
    data = encode(Image.fromarray(pixels), "JPEG", quality=100, exif=exif_with(6), icc_profile=SRGB)
    photo = read_photo(data)
    upright = ImageOps.exif_transpose(reload(data))
    assert photo.size == (40, 24) and photo.mode == "RGB" and photo.format == "JPEG"
    np.testing.assert_array_equal(photo.pixels, np.asarray(upright))

    written = reload(photo.encode())
    assert written.format == "JPEG" and written.size == (24, 40)
    assert written.info["icc_profile"] == SRGB
    exif = written.getexif()
    assert exif[0x010F] == "Holefill test camera"
    assert exif.get(EXIF_ORIENTATION, 1) == 1, "viewers must not rotate a second time"


def test_exif_sub_directories_survive():
    exif = exif_with(3)
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 12:00:00"  # DateTimeOriginal
    photo = read_photo(encode(Image.fromarray(gradient()), "JPEG", exif=exif))
    written = reload(photo.encode()).getexif()
    assert written.get_ifd(0x8769)[0x9003] == "2024:05:01 12:00:00"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16_bit_colour_keeps_every_bit_and_its_orientation(orientation):
    # High bytes a visible gradient, low bytes 17: what an 8-bit decoder would lose.
    pixels = gradient().astype(np.uint16) * 256 + 17
    exif = exif_with(orientation).tobytes().removeprefix(b"Exif\x00\x00")
    written, buffer = cv2.imencodeWithMetadata(
        ".png",
        cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR),
        [cv2.IMAGE_METADATA_EXIF, cv2.IMAGE_METADATA_ICCP],
        [np.frombuffer(exif, np.uint8), np.frombuffer(SRGB, np.uint8)],
    )
    assert written
    photo = read_photo(buffer.tobytes())
    assert photo.mode == "RGB;16" and photo.pixels.dtype == np.uint16
    assert (photo.pixels & 255 == 17).all()
    # Pillow decodes the same file to 8 bits; its rotation is the reference.
    upright = np.asarray(ImageOps.exif_transpose(reload(buffer.tobytes())))
    np.testing.assert_array_equal(photo.pixels >> 8, upright)

    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [0.5, 0.25, 1.0]))
    decoded = read_photo(filled.encode())
    np.testing.assert_array_equal(decoded.pixels, filled.pixels)
    np.testing.assert_array_equal(decoded.pixels[~holes], photo.pixels[~holes])
    assert decoded.save_options["icc_profile"] == SRGB
    assert EXIF_ORIENTATION not in reload(filled.encode()).getexif()


def test_16_bit_gray_png_round_trip():
    pixels = gradient(channels=1, dtype=np.uint16)[..., 0] + 3
    photo = read_photo(encode(Image.fromarray(pixels), "PNG"))
    assert photo.mode == "I;16" and photo.pixels.dtype == np.uint16
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [1.0, 1.0, 1.0]))
    assert (filled.pixels[holes] == 65535).all()
    np.testing.assert_array_equal(filled.pixels[~holes], photo.pixels[~holes])
    output = filled.to_output()
    assert output.mode == "I;16"
    np.testing.assert_array_equal(read_photo(filled.encode()).pixels, filled.pixels)


def test_rgba_alpha_is_untouched():
    pixels = gradient(channels=4)
    pixels[..., 3] = np.arange(40, dtype=np.uint8)[None, :] * 6
    photo = read_photo(encode(Image.fromarray(pixels), "PNG"))
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [0, 0, 0]))
    result = np.asarray(reload(filled.encode()))
    np.testing.assert_array_equal(result[..., 3], pixels[..., 3])
    np.testing.assert_array_equal(result[~holes], pixels[~holes])
    assert (result[holes, :3] == 0).all()
    assert filled.to_output().mode == "RGBA"


def test_palette_keeps_its_palette_and_transparency():
    source = Image.fromarray(gradient()).quantize(16)
    data = encode(source, "PNG", transparency=0)
    photo = read_photo(data)
    assert photo.mode == "P"
    holes = holes_in(photo.size)
    target = photo.palette[5] / 255.0
    filled = photo.with_fill(holes, fill(holes, target))
    result = reload(filled.encode())
    assert result.mode == "P" and result.info["transparency"] == 0
    indices = np.asarray(result)
    np.testing.assert_array_equal(indices[~holes], np.asarray(source)[~holes])
    np.testing.assert_array_equal(np.asarray(result.convert("RGB"))[holes][0], photo.palette[5])


@pytest.mark.parametrize(("mode", "format"), [("L", "JPEG"), ("L", "PNG"), ("LA", "PNG")])
def test_grayscale_stays_grayscale(mode, format):
    image = Image.fromarray(gradient(channels=1)[..., 0]).convert(mode)
    photo = read_photo(encode(image, format))
    assert photo.mode == mode
    np.testing.assert_array_equal(photo.colour()[..., 0], photo.colour()[..., 2])
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [1.0, 0.0, 0.0]))
    assert (filled.pixels[holes, 0] == round(0.299 * 255)).all()
    np.testing.assert_array_equal(filled.pixels[~holes], photo.pixels[~holes])
    assert filled.to_output().mode == mode


def test_bilevel_stays_bilevel():
    bits = gradient(channels=1)[..., 0] > 128
    photo = read_photo(encode(Image.fromarray(bits), "PNG"))
    assert photo.mode == "1"
    holes = holes_in(photo.size)
    result = reload(photo.with_fill(holes, fill(holes, [0.9, 0.9, 0.9])).encode())
    assert result.mode == "1"
    np.testing.assert_array_equal(np.asarray(result)[~holes], bits[~holes])
    assert np.asarray(result)[holes].all()


def test_cmyk_jpeg_stays_cmyk():
    image = Image.fromarray(gradient()).convert("CMYK")
    photo = read_photo(encode(image, "JPEG", quality=95))
    assert photo.mode == "CMYK" and photo.colour().shape == (24, 40, 3)
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(filled.pixels[~holes], photo.pixels[~holes])
    assert (filled.pixels[holes] == 0).all(), "white is no ink"
    assert reload(filled.encode()).mode == "CMYK"


@pytest.mark.parametrize("format", ["WEBP", "BMP", "TIFF", "GIF"])
def test_other_formats_round_trip_bit_exact(format):
    image = Image.fromarray(gradient())
    if format == "GIF":
        image = image.quantize(64)
    photo = read_photo(encode(image, format))
    assert photo.format == format
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [0.2, 0.4, 0.6]))
    decoded = read_photo(filled.encode())
    assert decoded.format == format
    np.testing.assert_array_equal(decoded.pixels, filled.pixels)
    np.testing.assert_array_equal(decoded.pixels[~holes], photo.pixels[~holes])


@pytest.mark.parametrize("format", ["HEIF", "AVIF"])
def test_heic_and_avif_come_back_as_jpeg_upright_with_their_exif(format):
    """An iPhone's HEIC (and an AVIF) is read, turned upright, and written back as a JPEG,
    which every viewer opens; with transparency, as a PNG."""
    pixels = np.kron(gradient(6, 8), np.ones((8, 8, 1), np.uint8))
    data = encode(Image.fromarray(pixels), format, quality=95, exif=exif_with(6).tobytes())
    photo = read_photo(data)
    assert (photo.format, photo.size) == ("JPEG", (64, 48))
    written = Image.open(io.BytesIO(photo.encode()))
    assert (written.format, written.size) == ("JPEG", (48, 64))
    assert written.getexif()[0x010F] == "Holefill test camera"
    assert EXIF_ORIENTATION not in written.getexif()
    upright = np.rot90(pixels, -1).astype(int)
    assert np.abs(np.asarray(written).astype(int) - upright).mean() < 6
    transparent = Image.fromarray(gradient(16, 16, channels=4))
    assert read_photo(encode(transparent, format, lossless=True)).format == "PNG"


@pytest.mark.parametrize("format", ["JPEG", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"])
@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_the_header_tells_the_upright_size_before_decoding(format, orientation):
    """A job's cost (and its mask's size) is known from the header: that size must be the
    decoded photo's, EXIF orientation applied."""
    pixels = np.kron(gradient(6, 8), np.ones((8, 8, 1), np.uint8))
    exif = exif_with(orientation)
    data = encode(
        Image.fromarray(pixels), format, exif=exif if format == "TIFF" else exif.tobytes()
    )
    opened = open_photo(data)
    assert opened.size == opened.decode().size == ((48, 64) if orientation < 5 else (64, 48))


def test_tiff_exif_is_kept_without_breaking_the_file():
    data = encode(Image.fromarray(gradient()), "TIFF", exif=exif_with(8))
    photo = read_photo(data)
    assert photo.size == (40, 24)
    written = reload(photo.encode())
    assert written.size == (24, 40)
    assert written.getexif()[0x010F] == "Holefill test camera"
    assert written.getexif().get(EXIF_ORIENTATION, 1) == 1


def test_16_bit_colour_tiff():
    pixels = gradient(dtype=np.uint16) + 5
    _, buffer = cv2.imencode(".tiff", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    photo = read_photo(buffer.tobytes())
    assert photo.mode == "RGB;16" and photo.format == "TIFF"
    np.testing.assert_array_equal(photo.pixels, pixels)
    np.testing.assert_array_equal(read_photo(photo.encode()).pixels, pixels)


@pytest.mark.parametrize(
    "array",
    [
        gradient(channels=1)[..., 0],
        gradient(),
        gradient(channels=4),
        gradient(dtype=np.uint16),
        gradient().astype(np.float32) / 255,
    ],
    ids=["gray", "rgb", "rgba", "uint16", "float32"],
)
def test_arrays_come_back_in_their_own_shape_and_type(array):
    photo = read_photo(array)
    holes = holes_in(photo.size)
    filled = photo.with_fill(holes, fill(holes, [0.5, 0.5, 0.5]))
    output = filled.to_output()
    assert output.shape == array.shape and output.dtype == array.dtype
    np.testing.assert_array_equal(output[~holes], array[~holes])
    written = read_photo(filled.encode("PNG")).pixels.reshape(array.shape)
    if array.dtype == np.float32:  # written as 8 bits
        output = np.round(output * 255).astype(np.uint8)
    np.testing.assert_array_equal(written, output)


def test_pil_images_are_accepted_and_returned():
    image = Image.fromarray(gradient(channels=4))
    photo = read_photo(image)
    assert photo.kind == "image"
    holes = holes_in(photo.size)
    assert photo.with_fill(holes, fill(holes, [0, 0, 0])).to_output().mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"not an image at all", UnsupportedFormatError, "unsupported_format"),
        (encode(Image.fromarray(gradient()), "JPEG")[:400], InvalidInputError, "unreadable_image"),
        (encode(Image.fromarray(gradient()).convert("F"), "TIFF"), UnsupportedFormatError, None),
    ],
    ids=["garbage", "truncated", "float-tiff"],
)
def test_bad_files(data, error, code):
    with pytest.raises(error) as raised:
        read_photo(data)
    assert isinstance(raised.value, ValueError)
    if code:
        assert raised.value.code == code


def test_bad_arrays_and_sources():
    with pytest.raises(UnsupportedFormatError):
        read_photo(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        read_photo(np.full((4, 4), 2.0, np.float32))
    with pytest.raises(UnsupportedFormatError):
        read_photo(12345)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidInputError) as raised:
        read_photo(tmp_path / "absent.jpg")
    assert raised.value.code == "unreadable_file"


def png_header_only(width, height):
    """A PNG that claims a size in its header and holds no pixels: a decompression bomb."""

    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_decompression_bomb_is_stopped_before_decoding():
    with pytest.raises(InputTooLargeError) as raised:
        read_photo(png_header_only(100_000, 100_000))
    assert raised.value.code == "too_many_pixels"
    # The configured budget applies below Pillow's own guard, from the header alone.
    with pytest.raises(InputTooLargeError, match="megapixels"):
        read_photo(png_header_only(2000, 1000), Limits(max_pixels=1_000_000))


def test_file_size_limit(tmp_path):
    data = encode(Image.fromarray(gradient()), "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(InputTooLargeError) as raised:
            read_photo(source, Limits(max_file_bytes=100))
        assert raised.value.code == "file_too_large"


def test_mask_white_is_hole_and_edges_are_binarised():
    values = np.zeros((24, 40), np.uint8)
    values[5:10, 5:15] = 255
    values[5:10, 15] = 140  # an anti-aliased edge, nearer white
    values[5:10, 16] = 100  # nearer black
    holes = read_mask(encode(Image.fromarray(values), "PNG"), (24, 40))
    assert holes.dtype == bool and holes.sum() == 5 * 11
    assert holes[5:10, 5:16].all()


def test_mask_with_transparency_marks_painted_pixels_as_hole():
    layer = np.zeros((24, 40, 4), np.uint8)
    layer[2:6, 3:9] = (20, 30, 200, 255)  # a dark blue brush stroke on a transparent layer
    holes = read_mask(encode(Image.fromarray(layer), "PNG"), (24, 40))
    np.testing.assert_array_equal(holes, holes_in((24, 40), 2, 3, 4, 6))


@pytest.mark.parametrize("mode", ["I;16", "RGB", "P"])
def test_a_mask_in_any_mode_reads_its_brightest_pixels_as_hole(mode):
    # A 16-bit grey mask, a red stroke, and that stroke in a palette.
    if mode == "I;16":
        values = np.zeros((24, 40), np.uint16)
        values[3:7, 2:9] = 65535
    else:
        values = np.zeros((24, 40, 3), np.uint8)
        values[3:7, 2:9] = (255, 0, 0)
    image = Image.fromarray(values)
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    holes = read_mask(encode(image, "PNG"), (24, 40))
    np.testing.assert_array_equal(holes, holes_in((24, 40), 3, 2, 4, 7))


def test_mask_of_another_size_is_scaled_when_the_aspect_ratio_matches():
    values = np.zeros((12, 20), np.uint8)
    values[2:4, 3:5] = 255
    holes = read_mask(Image.fromarray(values), (24, 40))
    np.testing.assert_array_equal(holes, holes_in((24, 40), 4, 6, 4, 4))
    with pytest.raises(InvalidInputError) as raised:
        read_mask(Image.fromarray(np.zeros((20, 20), np.uint8)), (24, 40))
    assert raised.value.code == "mask_size_mismatch"


def test_mask_dilation_and_arrays():
    holes = read_mask(holes_in((24, 40), 10, 10, 1, 1), (24, 40), dilation=2)
    assert holes.sum() == 17  # OpenCV's 5 x 5 ellipse
    float_mask = holes_in((24, 40)).astype(np.float32)
    np.testing.assert_array_equal(read_mask(float_mask, (24, 40)), holes_in((24, 40)))


def test_a_photo_is_not_a_mask():
    with pytest.raises(InvalidInputError) as raised:
        read_mask(gradient(), (24, 40))
    assert raised.value.code == "mask_not_binary"


@pytest.mark.parametrize("format", ["GIF", "TIFF"])
def test_an_animated_image_is_refused_rather_than_cut_to_one_frame(format):
    frames = [Image.new("RGB", (16, 12), colour) for colour in ("red", "blue", "green")]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=format, save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedFormatError, match="several frames") as raised:
        read_photo(buffer.getvalue())
    assert raised.value.code == "animated_image"
    still = io.BytesIO()
    frames[0].save(still, format=format)
    assert read_photo(still.getvalue()).size == (12, 16)  # (height, width)


def test_the_pages_of_a_tiff_are_not_walked_to_refuse_it(monkeypatch):
    """Counting a TIFF's pages reads every page directory, and each seek starts from the
    first: a 25 MB file of 200,000 pages held a worker for minutes."""
    from PIL import TiffImagePlugin

    pages = [Image.new("L", (1, 1), value) for value in range(200)]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="TIFF", save_all=True, append_images=pages[1:])
    seeks = []
    seek = TiffImagePlugin.TiffImageFile._seek
    monkeypatch.setattr(
        TiffImagePlugin.TiffImageFile,
        "_seek",
        lambda image, frame: seeks.append(frame) or seek(image, frame),
    )
    with pytest.raises(UnsupportedFormatError) as raised:
        read_photo(buffer.getvalue())
    assert raised.value.code == "animated_image"
    assert len(seeks) < 3, f"{len(seeks)} page directories read"


def test_an_avif_claiming_more_pixels_than_its_decoder_takes_is_too_large():
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, format="AVIF")
    data = bytearray(buffer.getvalue())
    size_box = data.find(b"ispe") + 8  # after the box type, version and flags
    data[size_box : size_box + 8] = struct.pack(">II", 30_000, 30_000)
    with pytest.raises(InputTooLargeError, match=r"900\.0 megapixels") as raised:
        read_photo(bytes(data))
    assert raised.value.code == "too_many_pixels"
