"""Training batches from folders of photos, as a Keras `PyDataset`."""

import warnings

import keras
import numpy as np

from holefill.imaging import arrays
from holefill.imaging.folders import PHOTO_EXTENSIONS, list_photos, names_for_warning
from holefill.masks import generator as masks


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
                    photo = arrays.load_rgb(path)
                except ValueError:
                    unreadable.append(path)
                    continue
                self.photos.append(arrays.short_side_at_least(photo, image_size))
            elif not arrays.has_image_header(path):
                unreadable.append(path)
                continue
            self.files.append(path)
        if unreadable:
            warnings.warn(
                f"skipped {len(unreadable)} unreadable photo file(s) of {len(candidates)}: "
                f"{names_for_warning(unreadable)}",
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
            ground_truth[row] = arrays.to_float(crop)
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
                photo = arrays.load_rgb(self.files[photo_index])
                return arrays.short_side_at_least(photo, self.image_size)
            except ValueError as error:
                warnings.warn(f"skipped an unreadable photo: {error}", stacklevel=2)
                photo_index = rng.integers(len(self.files))
        raise ValueError(f"could not decode any of {len(self.files)} photos in a row")
