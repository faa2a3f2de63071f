"""The library's mask convention: float32 `(height, width, 1)`, 1 = known pixel, 0 = hole."""

import numpy as np


def check_size(height, width):
    if int(height) != height or int(width) != width or height < 1 or width < 1:
        raise ValueError(f"mask size must be positive integers, got {height}x{width}")


def to_mask(holes):
    """Turns a uint8 canvas where holes are non-zero into a library mask."""
    return (holes == 0).astype(np.float32)[..., np.newaxis]
