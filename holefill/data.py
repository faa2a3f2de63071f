"""Training batches from folders of photos, and validation sets with hole-ratio buckets."""

import dataclasses
import re
import warnings
from pathlib import Path

import cv2
import keras
import numpy as np

from holefill import imaging, masks

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")

# How many unreadable file names a warning lists before it only counts them.
_NAMES_SHOWN_IN_WARNINGS = 5


@dataclasses.dataclass(frozen=True, eq=False)
class ValidationSample:
    """One validation case: a photo, a mask (1 = known, 0 = hole) and the mask's bucket.

    Attributes:
        name: unique, usable as a file name: the photo's and the mask's names.
        image: float32 `(size, size, 3)` in [0, 1]; samples of the same photo share it.
        mask: float32 `(size, size, 1)`.
        bucket: index in `masks.HOLE_RATIO_BUCKETS` of the bucket the mask was drawn from.
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    bucket: int


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


def _names_for_warning(paths):
    names = ", ".join(path.name for path in paths[:_NAMES_SHOWN_IN_WARNINGS])
    return names + (", ..." if len(paths) > _NAMES_SHOWN_IN_WARNINGS else "")


def _short_side_at_least(photo, size):
    """Scales a photo up, keeping its aspect ratio, if its short side is below `size`."""
    height, width = photo.shape[:2]
    if min(height, width) >= size:
        return photo
    factor = size / min(height, width)
    new_size = (max(size, round(width * factor)), max(size, round(height * factor)))
    return cv2.resize(photo, new_size, interpolation=cv2.INTER_CUBIC)


def _centre_crop(photo, size):
    photo = _short_side_at_least(photo, size)
    top = (photo.shape[0] - size) // 2
    left = (photo.shape[1] - size) // 2
    return photo[top : top + size, left : left + size]


class InpaintingDataset(keras.utils.PyDataset):
    """Batches of masked photos for training an inpainting model.

    Each photo is cropped at random to `image_size` x `image_size` (photos with a shorter
    side are first scaled up, keeping their aspect ratio), flipped horizontally with
    probability 1/2, and given a mask from `masks.MaskGenerator.sample`. An epoch visits
    the photos in a random order that changes with every epoch.

    Randomness comes from a generator derived from `(seed, epoch, batch index)`, so batches
    differ from each other and from epoch to epoch, even across worker processes, while
    the same seed reproduces them. `on_epoch_end` advances the epoch (Keras calls it).

    Files that Pillow does not recognise are skipped, with one warning listing how many.
    In streaming mode only the headers are checked up front; a file that turns out to be
    truncated when a batch decodes it is replaced by another photo, with a warning.

    Args:
        folders: a folder or a sequence of folders of JPEG, PNG and WebP photos.
        image_size: side of the square crops, in pixels.
        batch_size: photos per batch.
        steps_per_epoch: batches per epoch; defaults to `number of photos // batch_size`
            (at least 1). More steps than that wrap around the epoch's photo order.
        hole_ratio: `(lower, upper)` range of the masks' hole ratio.
        mask_kinds: `{kind: weight}` for `MaskGenerator.sample`; None for its default.
        in_memory: decode every photo once, in the constructor, and keep them as uint8
            arrays (already scaled up to `image_size` where needed), so that a fast
            accelerator never waits for JPEG decoding on small data sets.
        recursive: whether to look for photos in sub-folders too.
        seed: int seed; None draws one, so that worker processes still agree.
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size`, passed on to
            `keras.utils.PyDataset`.

    Each item is `(inputs, targets)`: `inputs = {"image": ground_truth * mask, "mask":
    mask}` with shapes `(batch_size, image_size, image_size, 3)` and `(..., 1)`, and
    `targets = ground_truth`, all float32.
    """

    def __init__(
        self,
        folders,
        *,
        image_size=256,
        batch_size=8,
        steps_per_epoch=None,
        hole_ratio=(0.01, 0.6),
        mask_kinds=None,
        in_memory=False,
        recursive=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if image_size < 1 or batch_size < 1:
            raise ValueError(
                f"image_size and batch_size must be positive, got {image_size} and {batch_size}"
            )
        if steps_per_epoch is not None and steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be positive or None, got {steps_per_epoch}")
        self.image_size = image_size
        self.batch_size = batch_size
        self.hole_ratio = masks.validate_hole_ratio(hole_ratio)
        self.mask_kinds = masks.validate_mask_kinds(
            masks.DEFAULT_MASK_KIND_PROBABILITIES if mask_kinds is None else mask_kinds
        )
        if seed is not None and (not isinstance(seed, int) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed
        self.epoch = 0
        self._order = None
        self._order_epoch = None

        candidates = list_photos(folders, recursive=recursive)
        self.files, unreadable = [], []
        self.photos = [] if in_memory else None
        for path in candidates:
            if in_memory:
                try:
                    photo = imaging.load_rgb(path)
                except ValueError:
                    unreadable.append(path)
                    continue
                self.photos.append(_short_side_at_least(photo, image_size))
            elif not imaging.has_image_header(path):
                unreadable.append(path)
                continue
            self.files.append(path)
        if unreadable:
            warnings.warn(
                f"skipped {len(unreadable)} unreadable photo file(s) of {len(candidates)}: "
                f"{_names_for_warning(unreadable)}",
                stacklevel=2,
            )
        if not self.files:
            raise ValueError(
                f"no readable photo ({', '.join(PHOTO_EXTENSIONS)}) in {folders}"
                + ("" if recursive else " (sub-folders were not searched)")
            )
        self.steps_per_epoch = steps_per_epoch or max(1, len(self.files) // batch_size)

    def __len__(self):
        return self.steps_per_epoch

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        mask_generator = masks.MaskGenerator(seed=rng)
        order = self._photo_order()
        positions = np.arange(index * self.batch_size, (index + 1) * self.batch_size)
        size = self.image_size
        ground_truth = np.empty((self.batch_size, size, size, 3), np.float32)
        mask = np.empty((self.batch_size, size, size, 1), np.float32)
        for row, photo_index in enumerate(order[positions % len(order)]):
            photo = self._photo(photo_index, rng)
            top = rng.integers(photo.shape[0] - size + 1)
            left = rng.integers(photo.shape[1] - size + 1)
            crop = photo[top : top + size, left : left + size]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            ground_truth[row] = imaging.to_float(crop)
            mask[row] = mask_generator.sample(
                size, size, hole_ratio=self.hole_ratio, kinds=self.mask_kinds
            )
        return {"image": ground_truth * mask, "mask": mask}, ground_truth

    def _photo_order(self):
        """This epoch's permutation of the photos, computed once per epoch and process."""
        if self._order_epoch != self.epoch:
            self._order = np.random.default_rng([self.seed, self.epoch]).permutation(
                len(self.files)
            )
            self._order_epoch = self.epoch
        return self._order

    def _photo(self, photo_index, rng):
        """A decoded photo whose short side is at least `image_size`."""
        if self.photos is not None:
            return self.photos[photo_index]
        for _ in range(len(self.files)):
            try:
                photo = imaging.load_rgb(self.files[photo_index])
                return _short_side_at_least(photo, self.image_size)
            except ValueError as error:
                warnings.warn(f"skipped an unreadable photo: {error}", stacklevel=2)
                photo_index = rng.integers(len(self.files))
        raise ValueError(f"could not decode any of {len(self.files)} photos in a row")


def _validation_photos(images_dir, size):
    photos = list_photos(images_dir, recursive=False)
    if not photos:
        raise ValueError(f"no photo ({', '.join(PHOTO_EXTENSIONS)}) in {images_dir}")
    return [
        (path.stem, imaging.to_float(_centre_crop(imaging.load_rgb(path), size))) for path in photos
    ]


def load_validation_set(images_dir, masks_dir, *, size, hole_is="white"):
    """Pairs every validation photo with one mask file from each hole-ratio bucket.

    Mask files are named by their index in the NVIDIA test set (`01234.png`), and index `i`
    lies in bucket `i // 2000`. Within a bucket, sorted by index, the k-th of `n` photos
    (sorted by name) takes the mask at position `k * count // n`, which spreads the photos
    over all the bucket's masks (in the NVIDIA set, masks with and without a border).

    Photos are centre-cropped to `size` x `size` (scaled up first if their short side is
    smaller); masks are resized to `size` with nearest-neighbour sampling.

    Args:
        images_dir: folder of photos (not searched recursively).
        masks_dir: folder of numbered mask files.
        size: side of the square samples, in pixels.
        hole_is: polarity of the mask files, "white" (NVIDIA) or "black".

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
        if bucket >= len(masks.HOLE_RATIO_BUCKETS):
            raise ValueError(
                f"mask file {path} has index {path.stem}, beyond the NVIDIA test set's "
                f"{2000 * len(masks.HOLE_RATIO_BUCKETS)} masks"
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
                loaded_masks[path] = masks.load_mask_file(path, hole_is=hole_is, size=(size, size))
            samples.append(
                ValidationSample(
                    name=f"{photo_name}_mask{path.stem}",
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
    remove (`masks.MASK_FAMILIES`). Photos are prepared as in `load_validation_set`.

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
    if family not in masks.MASK_FAMILIES:
        raise ValueError(f"mask family must be one of {list(masks.MASK_FAMILIES)}, got {family!r}")
    kinds = masks.MASK_FAMILIES[family]
    mask_generator = masks.MaskGenerator(seed=seed)
    samples = []
    for photo_name, image in _validation_photos(images_dir, size):
        for bucket, ratio_bucket in enumerate(masks.HOLE_RATIO_BUCKETS):
            for draw in range(per_bucket):
                samples.append(
                    ValidationSample(
                        name=f"{photo_name}_{family}{bucket}_{draw}",
                        image=image,
                        mask=mask_generator.sample(
                            size, size, hole_ratio=ratio_bucket.range, kinds=kinds
                        ),
                        bucket=bucket,
                    )
                )
    return samples
