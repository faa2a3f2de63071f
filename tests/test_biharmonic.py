"""holefill.inference.biharmonic, the seams' and the error map's diffusion, against
scikit-image's `inpaint_biharmonic`, which it replaces in serving."""

import numpy as np
import pytest
from skimage import data
from skimage.restoration import inpaint_biharmonic as scikit_image_biharmonic

from holefill.inference.biharmonic import inpaint_biharmonic


def holes_of(kind, shape):
    holes = np.zeros(shape, bool)
    if kind == "block":
        holes[40:104, 30:94] = True
    elif kind == "at the border":
        holes[:12, :40] = True
        holes[-9:, 50:80] = True
        holes[60:70, -5:] = True
    elif kind == "strokes two pixels apart":
        holes[20:110:3, 10:120] = True
    elif kind == "scattered":
        holes[np.random.default_rng(0).random(shape) < 0.2] = True
    return holes


@pytest.mark.parametrize(
    "kind", ["block", "at the border", "strokes two pixels apart", "scattered"]
)
def test_it_solves_what_scikit_image_solves(kind):
    photo = data.astronaut()[::4, ::4].astype(np.float64) / 255.0
    holes = holes_of(kind, photo.shape[:2])
    expected = scikit_image_biharmonic(photo, holes, channel_axis=-1)
    filled = inpaint_biharmonic(photo, holes)
    np.testing.assert_allclose(filled, expected, atol=1e-9)
    np.testing.assert_array_equal(filled[~holes], photo[~holes])


def test_one_channel_and_float32_photos():
    grey = data.camera()[::4, ::4].astype(np.float32) / 255.0
    holes = holes_of("block", grey.shape)
    filled = inpaint_biharmonic(grey, holes)
    assert filled.shape == grey.shape
    # scikit-image solves a float32 photo in float32; this solves in float64.
    expected = scikit_image_biharmonic(grey.astype(np.float64), holes)
    np.testing.assert_allclose(filled, expected, atol=1e-6)


def test_a_photo_that_is_all_hole_is_refused_and_one_without_holes_is_kept():
    photo = np.random.default_rng(1).random((8, 8, 3))
    with pytest.raises(ValueError, match="nothing to interpolate"):
        inpaint_biharmonic(photo, np.ones((8, 8), bool))
    np.testing.assert_array_equal(inpaint_biharmonic(photo, np.zeros((8, 8), bool)), photo)
    with pytest.raises(ValueError, match="differ in size"):
        inpaint_biharmonic(photo, np.zeros((8, 9), bool))
