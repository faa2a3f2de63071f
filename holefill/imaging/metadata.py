"""A photo's metadata, read as opened and written back with the result: EXIF without its
orientation (the pixels are turned upright on load, so viewers must not turn them again),
the ICC profile, transparency and dpi."""

from PIL import Image

# TIFF tags that describe the file's own layout: copying them from another file's EXIF
# into a new TIFF would corrupt it (Pillow would write the old size and offsets).
TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322}
    | {323, 324, 325, 338, 339, 340, 341, 530, 532, 34675}
)
EXIF_ORIENTATION = 0x0112
EXIF_DIRECTORIES = (0x8769, 0x8825)  # the Exif and GPS sub-directories


def header_orientation(image):
    """The EXIF orientation of an opened, not yet loaded, image (None: none to apply)."""
    # Pillow's TIFF reader gives the upright size already (it turns the photo as it
    # loads), and `getexif()` would decode a PNG to look for EXIF after its pixels.
    if image.format == "TIFF" or "exif" not in image.info:
        return None
    exif = Image.Exif()
    exif.load(image.info["exif"])
    return exif.get(EXIF_ORIENTATION)


def save_options(image):
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
