"""Folders of photos: which files in them are photos."""

from pathlib import Path

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")

# How many unreadable file names a warning lists before it only counts them.
_NAMES_SHOWN_IN_WARNINGS = 5


def list_photos(folders, *, recursive=True):
    """The JPEG, PNG and WebP files in one or more folders, sorted.

    Args:
        folders: a folder (`str` or `pathlib.Path`) or a sequence of folders.
        recursive: whether to look into sub-folders too.

    Returns:
        A sorted list of `pathlib.Path`s (sorted per folder, in the order of `folders`).
    """
    if isinstance(folders, str | Path):
        folders = [folders]
    photos = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise ValueError(f"photo folder {folder} does not exist or is not a folder")
        candidates = folder.rglob("*") if recursive else folder.iterdir()
        photos.extend(
            sorted(
                path
                for path in candidates
                if path.suffix.lower() in PHOTO_EXTENSIONS and path.is_file()
            )
        )
    return photos


def names_for_warning(paths):
    names = ", ".join(path.name for path in paths[:_NAMES_SHOWN_IN_WARNINGS])
    return names + (", ..." if len(paths) > _NAMES_SHOWN_IN_WARNINGS else "")


def photo_files(paths):
    """The given files, and the image files directly inside the given folders, sorted."""
    for path in paths:
        if path.is_dir():
            yield from sorted(child for child in path.iterdir() if image_format(child))
        else:
            yield path


def mask_file_for(photo, mask):
    """`mask` itself, or the mask of `photo` in the folder `mask`: NAME.* or NAME_mask.*."""
    if not mask.is_dir():
        return mask
    for stem in (photo.stem, f"{photo.stem}_mask"):
        candidates = sorted(
            path for path in mask.glob(f"{stem}.*") if image_format(path) and path != photo
        )
        if candidates:
            return candidates[0]
    raise ValueError(
        f"no mask for it in {mask} (looked for {photo.stem}.* and {photo.stem}_mask.*)"
    )


def image_format(path):
    """The image format a file name's extension stands for, or None."""
    from PIL import Image

    from holefill.imaging.photos import READ_FORMATS

    format = Image.registered_extensions().get(path.suffix.lower())
    return format if format in READ_FORMATS else None
