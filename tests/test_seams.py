"""The diffusion blend at the holes' edges (holefill.seams)."""

import cv2
import numpy as np
import pytest
import skimage.data

from holefill import seams
from holefill.masks import MaskGenerator
from holefill.seams import SeamBlend, blend_seams


@pytest.fixture(scope="module")
def photo_and_holes():
    photo = skimage.data.astronaut()[::2, ::2].copy()
    known = MaskGenerator(seed=np.random.default_rng(3)).sample(256, 256, hole_ratio=(0.2, 0.3))
    return photo, known[..., 0] < 0.5


def test_the_edge_is_diffusion_and_the_interior_mostly_the_network(photo_and_holes):
    photo, holes = photo_and_holes
    network = np.full((*holes.shape, 3), 0.5, np.float32)
    blended = blend_seams(photo, holes, network)

    diffused = cv2.inpaint(photo, holes.astype(np.uint8), 3, cv2.INPAINT_NS) / np.float32(255)
    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    edge, interior = holes & (distance <= 2), holes & (distance >= 5)
    assert edge.sum() > 1000 and interior.sum() > 1000
    np.testing.assert_allclose(blended[edge], diffused[edge], atol=1e-6)
    np.testing.assert_allclose(blended[interior], 0.2 * diffused[interior] + 0.4, atol=1e-6)
    ramp = holes & (distance > 2) & (distance < 5)
    weight = (blended[ramp] - 0.5) / (diffused[ramp] - 0.5)
    steady = np.abs(diffused[ramp] - 0.5) > 0.05
    assert np.all((weight[steady] > 0.2 - 1e-4) & (weight[steady] < 1 + 1e-4))
    np.testing.assert_array_equal(blended[~holes], network[~holes])


def test_every_photo_type_is_blended(photo_and_holes):
    photo, holes = photo_and_holes
    network = np.zeros((*holes.shape, 3), np.float32)
    eight_bit = blend_seams(photo, holes, network)
    for other in (photo.astype(np.uint16) * 257, photo.astype(np.float32) / 255):
        blended = blend_seams(other, holes, network)
        # OpenCV diffuses 8-bit colour jointly and other types per channel: close, not equal.
        assert np.abs(blended - eight_bit)[holes].mean() < 0.01


def test_a_large_hole_is_diffused_coarsely_inside_and_finely_at_its_edge(monkeypatch):
    photo = cv2.resize(skimage.data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    holes = np.zeros((1024, 1024), bool)
    holes[200:820, 250:870] = True
    assert holes.sum() > seams.FULL_RESOLUTION_HOLE_PIXELS
    network = np.full((1024, 1024, 3), 0.5, np.float32)
    coarse = blend_seams(photo, holes, network)
    monkeypatch.setattr(seams, "FULL_RESOLUTION_HOLE_PIXELS", holes.size)
    fine = blend_seams(photo, holes, network)

    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    edge = holes & (distance <= 2)
    assert np.abs(coarse - fine)[edge].mean() < 0.005
    assert np.abs(coarse - fine)[holes].mean() < 0.01
    np.testing.assert_array_equal(coarse[~holes], network[~holes])


def test_no_hole_and_bad_arguments(photo_and_holes):
    photo, holes = photo_and_holes
    network = np.zeros((*holes.shape, 3), np.float32)
    assert blend_seams(photo, np.zeros_like(holes), network) is network
    with pytest.raises(ValueError, match="share their height and width"):
        blend_seams(photo, holes[:-1], network)
    with pytest.raises(ValueError, match="edge_width < ramp_end"):
        SeamBlend(edge_width=5, ramp_end=2)
    with pytest.raises(ValueError, match=r"interior_diffusion_share must lie in \[0, 1\]"):
        SeamBlend(interior_diffusion_share=1.5)
    with pytest.raises(ValueError, match="radius"):
        SeamBlend(radius=0)
