"""The photo formats the service takes and gives back, by the content type a browser gives
their files: the format's name, and its files' extensions (the first is what a result in
that format is named with). `GET /limits` publishes them for the web app; `holefill`'s own
reader (`holefill.imaging.photos`) reads the same ones, as a test checks.
"""

IMAGE_FORMATS = {
    "image/jpeg": ("JPEG", ("jpg", "jpeg")),
    "image/png": ("PNG", ("png",)),
    "image/webp": ("WebP", ("webp",)),
    "image/heic": ("HEIC", ("heic", "heif")),
    "image/heif": ("HEIF", ("heif", "heic")),
    "image/avif": ("AVIF", ("avif",)),
    "image/bmp": ("BMP", ("bmp",)),
    "image/tiff": ("TIFF", ("tif", "tiff")),
    "image/gif": ("GIF", ("gif",)),
}
IMAGE_CONTENT_TYPES = tuple(IMAGE_FORMATS)


def extension_of(content_type):
    """The extension a file of `content_type` is named with ("bin" for another type)."""
    return IMAGE_FORMATS[content_type][1][0] if content_type in IMAGE_FORMATS else "bin"
