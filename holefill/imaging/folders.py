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
