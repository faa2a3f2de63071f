"""Classical (non-learned) inpainting, the baselines every evaluation reports.

Every method has the signature ``method(image, mask) -> image``: ``image`` float32
``(H, W, 3)`` in [0, 1], ``mask`` float32 ``(H, W, 1)`` with 1 = known pixel and 0 = hole.
The result is float32 ``(H, W, 3)`` in [0, 1] whose known pixels are those of ``image``,
bit for bit; what ``image`` holds inside the hole is never read.
"""

from collections.abc import Callable

import cv2
import numpy as np

from holefill.evaluation.metrics import composite
from holefill.inference.biharmonic import inpaint_biharmonic

# Neighbourhood radius, in pixels, that OpenCV's methods draw on around each hole pixel.
OPENCV_INPAINT_RADIUS = 3


def _hole_of(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Checks an image-mask pair and returns the hole as a boolean ``(H, W)`` array."""
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}.")
    if mask.shape != (*image.shape[:2], 1):
        raise ValueError(
            f"mask must have shape {(*image.shape[:2], 1)} (1 = known, 0 = hole) for an image "
            f"of shape {image.shape}, got {mask.shape}."
        )
    return mask[..., 0] < 0.5


def _opencv_inpaint(image: np.ndarray, mask: np.ndarray, algorithm: int) -> np.ndarray:
    hole = _hole_of(image, mask)
    # cv2.inpaint accepts only 8-bit images; the known pixels lost to rounding come back
    # from the float image when compositing.
    image_uint8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    filled = cv2.inpaint(image_uint8, hole.astype(np.uint8), OPENCV_INPAINT_RADIUS, algorithm)
    return composite(filled.astype(np.float32) / 255.0, image, mask)


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fast marching method of Telea (2004), ``cv2.INPAINT_TELEA``."""
    return _opencv_inpaint(image, mask, cv2.INPAINT_TELEA)


def navier_stokes(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fluid-dynamics method of Bertalmio et al. (2001), ``cv2.INPAINT_NS``."""
    return _opencv_inpaint(image, mask, cv2.INPAINT_NS)


def biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Smooth biharmonic interpolation (`holefill.inference.biharmonic`, as scikit-image's
    ``inpaint_biharmonic``).

    About ten times slower than the OpenCV methods.
    """
    hole = _hole_of(image, mask)
    filled = inpaint_biharmonic(image, hole)
    return composite(np.clip(filled, 0.0, 1.0), image, mask)


def patchmatch(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """PatchMatch inpainting (Barnes et al. 2009) as PyPI's `pypatchmatch` does it, with
    3-pixel patch radius as InvokeAI uses it: the exemplar method that copies the photo's
    own texture, the anchor for `holefill.inference.synthesis`."""
    import patchmatch as pypatchmatch  # An evaluation dependency, not a serving one.

    hole = _hole_of(image, mask)
    image_uint8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    filled = pypatchmatch.inpaint(image_uint8, hole.astype(np.uint8) * 255, patch_size=3)
    return composite(filled.astype(np.float32) / 255.0, image, mask)


CLASSICAL_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "telea": telea,
    "ns": navier_stokes,
    "biharmonic": biharmonic,
    "patchmatch": patchmatch,
}
