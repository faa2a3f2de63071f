"""Validation sets: photos paired with masks from each hole-ratio bucket, from the NVIDIA
mask files or generated. No Keras: evaluating the baselines loads none."""

import dataclasses
import re

import numpy as np

from holefill.imaging import arrays
from holefill.imaging.folders import PHOTO_EXTENSIONS, list_photos
from holefill.imaging.masks import read_mask
from holefill.masks.buckets import HOLE_RATIO_BUCKETS
from holefill.masks.canvas import to_mask
from holefill.masks.generator import MASK_FAMILIES, MaskGenerator


@dataclasses.dataclass(frozen=True, eq=False)
class ValidationSample:
    """One validation case: a photo, a mask (1 = known, 0 = hole) and the mask's bucket.

    Attributes:
        name: unique, usable as a file name: the photo's and the mask's names.
        photo: the photo's file name without its extension.
        image: float32 `(size, size, 3)` in [0, 1]; samples of the same photo share it.
        mask: float32 `(size, size, 1)`.
        bucket: index in `HOLE_RATIO_BUCKETS` of the bucket the mask was drawn from.
    """

    name: str
    photo: str
    image: np.ndarray
    mask: np.ndarray
    bucket: int


def _validation_photos(images_dir, size):
    photos = list_photos(images_dir, recursive=False)
    if not photos:
        raise ValueError(f"no photo ({', '.join(PHOTO_EXTENSIONS)}) in {images_dir}")
    return [
        (path.stem, arrays.to_float(arrays.centre_crop(arrays.load_rgb(path), size)))
        for path in photos
    ]


def load_validation_set(images_dir, masks_dir, *, size):
    """Pairs every validation photo with one mask file from each hole-ratio bucket.

    Mask files are named by their index in the NVIDIA test set (`01234.png`), and index `i`
    lies in bucket `i // 2000`. Within a bucket, sorted by index, the k-th of `n` photos
    (sorted by name) takes the mask at position `k * count // n`, which spreads the photos
    over all the bucket's masks (in the NVIDIA set, masks with and without a border).

    Photos are centre-cropped to `size` x `size` (scaled up first if their short side is
    smaller); masks are read as serving reads them (`holefill.imaging.masks.read_mask`),
    scaled to `size` x `size`, which needs square mask files (as the NVIDIA masks are).

    Args:
        images_dir: folder of photos (not searched recursively).
        masks_dir: folder of numbered mask files.
        size: side of the square samples, in pixels.

    Returns:
        A list of `ValidationSample`, photo by photo, each photo's samples by bucket.
    """
    masks_by_bucket = {}
    for path in list_photos(masks_dir, recursive=False):
        if not re.fullmatch(r"\d+", path.stem):
            raise ValueError(
                f"mask file {path} is not named by its index in the NVIDIA test set "
                "(e.g. 04020.png), so its hole-ratio bucket is unknown"
            )
        bucket = int(path.stem) // 2000
        if bucket >= len(HOLE_RATIO_BUCKETS):
            raise ValueError(
                f"mask file {path} has index {path.stem}, beyond the NVIDIA test set's "
                f"{2000 * len(HOLE_RATIO_BUCKETS)} masks"
            )
        masks_by_bucket.setdefault(bucket, []).append(path)
    if not masks_by_bucket:
        raise ValueError(f"no mask file in {masks_dir}")
    for paths in masks_by_bucket.values():
        paths.sort(key=lambda path: int(path.stem))

    photos = _validation_photos(images_dir, size)
    loaded_masks = {}
    samples = []
    for photo_position, (photo_name, image) in enumerate(photos):
        for bucket in sorted(masks_by_bucket):
            paths = masks_by_bucket[bucket]
            path = paths[photo_position * len(paths) // len(photos)]
            if path not in loaded_masks:
                loaded_masks[path] = to_mask(read_mask(path, (size, size)))
            samples.append(
                ValidationSample(
                    name=f"{photo_name}_mask{path.stem}",
                    photo=photo_name,
                    image=image,
                    mask=loaded_masks[path],
                    bucket=bucket,
                )
            )
    return samples


def generated_validation_set(images_dir, *, size, per_bucket=1, family="strokes", seed=0):
    """Pairs every photo with generated masks in each hole-ratio bucket's range.

    For photo folders without a mask set, and for holes that no mask set has: `family`
    "objects" paints blobs, boxes and thick brush paths, as a user does over an object to
    remove (`MASK_FAMILIES`). Photos are prepared as in `load_validation_set`.

    Args:
        images_dir: folder of photos (not searched recursively).
        size: side of the square samples, in pixels.
        per_bucket: masks per photo and bucket.
        family: "strokes" or "objects".
        seed: seed of the `MaskGenerator`; the same seed gives the same set.

    Returns:
        A list of `len(photos) * 6 * per_bucket` `ValidationSample`s.
    """
    if per_bucket < 1:
        raise ValueError(f"per_bucket must be positive, got {per_bucket}")
    if family not in MASK_FAMILIES:
        raise ValueError(f"mask family must be one of {list(MASK_FAMILIES)}, got {family!r}")
    kinds = MASK_FAMILIES[family]
    mask_generator = MaskGenerator(seed=seed)
    samples = []
    for photo_name, image in _validation_photos(images_dir, size):
        for bucket, ratio_bucket in enumerate(HOLE_RATIO_BUCKETS):
            for draw in range(per_bucket):
                samples.append(
                    ValidationSample(
                        name=f"{photo_name}_{family}{bucket}_{draw}",
                        photo=photo_name,
                        image=image,
                        mask=mask_generator.sample(
                            size, size, hole_ratio=ratio_bucket.range, kinds=kinds
                        ),
                        bucket=bucket,
                    )
                )
    return samples
