"""Training batches drawn on the accelerator, inside the compiled training step.

A CPU loader that decodes, crops and draws masks for every batch keeps a fast GPU waiting.
Here the photos (decoded once, uint8) and a bank of procedural masks (drawn once, uint8)
live on the device as non-trainable variables; each step draws its random crops, flips,
mask choices, rotations, shifts and dilations with `keras.random` and gathers the pixels,
so the host only dispatches the step. Any Keras backend; a CPU runs it too (slowly).

The bank repeats its masks, so each draw moves one: rotated about its centre by any angle,
mirrored, shifted by up to a quarter of the side and dilated by up to `max_dilation`
pixels. A transformed mask whose hole ratio leaves the training range (rotation pushes
holes out of the frame, dilation grows them) falls back to the bank's mask as drawn.
"""

import math
import warnings

import cv2
import keras
import numpy as np
from keras import ops

from holefill.imaging import arrays
from holefill.imaging.folders import PHOTO_EXTENSIONS, list_photos
from holefill.masks import generator as masks

# A flat gather index is int32 on every backend.
_LARGEST_GATHER = 2**31 - 1


def load_photo_array(folders, *, image_size):
    """Every readable photo in `folders` as one uint8 array `(count, side, side, 3)`.

    Each photo is scaled so that its short side is `side` and centre-cropped to a square;
    `side` is the smallest short side among the photos, at least `image_size`, so that the
    common case (photos of one short side, such as `train/` at 288 px) is not resampled and
    random `image_size` crops still have room to move.
    """
    decoded, unreadable = [], 0
    for path in list_photos(folders):
        try:
            decoded.append(arrays.load_rgb(path))
        except ValueError:
            unreadable += 1
    if not decoded:
        raise ValueError(f"no readable photo ({', '.join(PHOTO_EXTENSIONS)}) in {folders}")
    if unreadable:
        warnings.warn(f"skipped {unreadable} unreadable photo file(s)", stacklevel=2)
    side = max(image_size, min(min(photo.shape[:2]) for photo in decoded))
    photos = np.empty((len(decoded), side, side, 3), np.uint8)
    for index, photo in enumerate(decoded):
        photos[index] = _square(photo, side)
    return photos


def _square(photo, side):
    """The photo scaled to a short side of `side` and centre-cropped to a square."""
    height, width = photo.shape[:2]
    if min(height, width) != side:
        factor = side / min(height, width)
        new_size = (max(side, round(width * factor)), max(side, round(height * factor)))
        shrinking = factor < 1
        photo = cv2.resize(
            photo, new_size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        )
        height, width = photo.shape[:2]
    top, left = (height - side) // 2, (width - side) // 2
    return photo[top : top + side, left : left + side]


def build_mask_bank(count, *, size, kinds, hole_ratio, seed):
    """`count` procedural masks as uint8 `(count, size, size)`, **1 = hole**, drawn by
    `masks.MaskGenerator.sample` (each hole ratio in `hole_ratio`)."""
    if count < 1:
        raise ValueError(f"a mask bank needs at least one mask, got {count}")
    generator = masks.MaskGenerator(seed=seed)
    bank = np.empty((count, size, size), np.uint8)
    for index in range(count):
        known = generator.sample(size, size, hole_ratio=hole_ratio, kinds=kinds)
        bank[index] = known[..., 0] < 0.5
    return bank


class DeviceBatchSampler(keras.layers.Layer):
    """Draws `(inputs, truth)` training batches from photos and masks held on the device.

    Args:
        photos: uint8 `(count, side, side, 3)` (`load_photo_array`).
        mask_bank: uint8 `(count, image_size, image_size)`, 1 = hole (`build_mask_bank`).
        batch_size: examples per draw.
        hole_ratio: `(lower, upper)` that a transformed mask's hole ratio must respect.
        max_dilation: the largest dilation of a mask, in pixels.
        seed: seed of the draws.

    `draw()` returns `inputs = {"image": truth * mask, "mask": mask}` and `truth`, float32
    `(batch_size, image_size, image_size, 3)` and `(..., 1)`, as `InpaintingDataset` does.
    """

    def __init__(
        self,
        photos,
        mask_bank,
        *,
        batch_size,
        hole_ratio=(0.01, 0.6),
        max_dilation=4,
        seed=0,
        **kwargs,
    ):
        super().__init__(dtype="float32", **kwargs)
        photos, mask_bank = np.asarray(photos), np.asarray(mask_bank)
        if photos.ndim != 4 or photos.shape[1] != photos.shape[2] or photos.shape[3] != 3:
            raise ValueError(f"photos must be (count, side, side, 3), got {photos.shape}")
        if mask_bank.ndim != 3 or mask_bank.shape[1] != mask_bank.shape[2]:
            raise ValueError(f"mask_bank must be (count, size, size), got {mask_bank.shape}")
        if mask_bank.shape[1] > photos.shape[1]:
            raise ValueError(
                f"masks of {mask_bank.shape[1]} px do not fit photos of {photos.shape[1]} px"
            )
        if photos.size // 3 > _LARGEST_GATHER or mask_bank.size > _LARGEST_GATHER:
            raise ValueError("photos or masks exceed 2**31 pixels: use fewer or smaller ones")
        if batch_size < 1 or max_dilation < 0:
            raise ValueError(
                f"batch_size must be positive and max_dilation non-negative, got "
                f"{batch_size} and {max_dilation}"
            )
        self.batch_size = batch_size
        self.hole_ratio = masks.validate_hole_ratio(hole_ratio)
        self.max_dilation = max_dilation
        self.photo_count, self.photo_side = photos.shape[:2]
        self.mask_count, self.image_size = mask_bank.shape[:2]
        self.photos = keras.Variable(photos, dtype="uint8", trainable=False, name="photos")
        self.mask_bank = keras.Variable(mask_bank, dtype="uint8", trainable=False, name="masks")
        self.seed_generator = keras.random.SeedGenerator(seed, name="batch_seed")
        self.built = True  # every variable exists already

    def draw(self):
        batch, size = self.batch_size, self.image_size

        def integers(high):
            return keras.random.randint((batch,), 0, high, seed=self.seed_generator)

        def uniform(low, high):
            return keras.random.uniform((batch,), low, high, seed=self.seed_generator)

        truth = self.crops(
            integers(self.photo_count),
            integers(self.photo_side - size + 1),
            integers(self.photo_side - size + 1),
            uniform(0, 1) < 0.5,
        )
        shift = size // 4
        holes = self.placed_masks(
            integers(self.mask_count),
            uniform(-math.pi, math.pi),
            uniform(0, 1) < 0.5,
            integers(2 * shift + 1) - shift,
            integers(2 * shift + 1) - shift,
            integers(self.max_dilation + 1),
        )
        mask = 1.0 - holes
        return {"image": truth * mask, "mask": mask}, truth

    def crops(self, photo, top, left, flip):
        """float32 `(batch, size, size, 3)`: the crops at `(top, left)` of the photos
        `photo`, mirrored left to right where `flip`."""
        size, side = self.image_size, self.photo_side
        offsets = ops.arange(size, dtype="int32")
        rows = top[:, None] + offsets[None, :]
        columns = left[:, None] + ops.where(flip[:, None], size - 1 - offsets, offsets)
        index = photo[:, None, None] * (side * side) + rows[:, :, None] * side + columns[:, None, :]
        pixels = ops.take(ops.reshape(self.photos, (-1, 3)), ops.reshape(index, (-1,)), axis=0)
        return ops.reshape(ops.cast(pixels, "float32"), (-1, size, size, 3)) / 255.0

    def placed_masks(self, mask, angle, mirror, shift_y, shift_x, dilation):
        """float32 `(batch, size, size, 1)`, 1 = hole: bank masks `mask` rotated by `angle`
        (radians, about the centre, nearest neighbour), mirrored where `mirror`, shifted
        and dilated by `dilation` pixels; where that leaves the hole-ratio range, the bank
        mask as drawn."""
        size = self.image_size
        flat_bank = ops.reshape(self.mask_bank, (-1,))
        centre = (size - 1) / 2
        grid = ops.arange(size, dtype="float32") - centre
        y, x = grid[None, :, None], grid[None, None, :]
        cosine, sine = ops.cos(angle)[:, None, None], ops.sin(angle)[:, None, None]
        source_x = cosine * x + sine * y
        source_y = cosine * y - sine * x
        source_x = ops.where(mirror[:, None, None], -source_x, source_x)
        source_x = ops.round(source_x + centre - ops.cast(shift_x, "float32")[:, None, None])
        source_y = ops.round(source_y + centre - ops.cast(shift_y, "float32")[:, None, None])
        inside = (source_x >= 0) & (source_x < size) & (source_y >= 0) & (source_y < size)
        source = ops.cast(ops.clip(source_y, 0, size - 1) * size, "int32") + ops.cast(
            ops.clip(source_x, 0, size - 1), "int32"
        )
        base = mask[:, None, None] * (size * size)
        moved = ops.take(flat_bank, ops.reshape(base + source, (-1,)), axis=0)
        moved = ops.where(ops.reshape(inside, (-1,)), ops.cast(moved, "float32"), 0.0)
        holes = ops.reshape(moved, (-1, size, size, 1))
        for step in range(self.max_dilation):
            grown = ops.max_pool(holes, pool_size=3, strides=1, padding="same")
            holes = ops.where((step < dilation)[:, None, None, None], grown, holes)

        as_drawn = ops.take(flat_bank, ops.reshape(base + self._identity_index(), (-1,)), axis=0)
        as_drawn = ops.reshape(ops.cast(as_drawn, "float32"), (-1, size, size, 1))
        ratio = ops.mean(holes, axis=(1, 2, 3))
        lower, upper = self.hole_ratio
        in_range = (ratio > lower) & (ratio <= upper)
        return ops.where(in_range[:, None, None, None], holes, as_drawn)

    def _identity_index(self):
        size = self.image_size
        return ops.reshape(ops.arange(size * size, dtype="int32"), (1, size, size))
