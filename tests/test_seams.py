"""The diffusion blend at the holes' edges (holefill.inference.seams)."""

import dataclasses

import cv2
import numpy as np
import pytest
import skimage.data
from skimage.restoration import inpaint_biharmonic

from holefill.inference import seams
from holefill.inference.seams import DIFFUSIONS, SeamBlend, blend_seams
from holefill.masks.generator import MaskGenerator


@pytest.fixture(scope="module")
def photo_and_holes():
    photo = skimage.data.astronaut()[::2, ::2].copy()
    known = MaskGenerator(seed=np.random.default_rng(3)).sample(256, 256, hole_ratio=(0.2, 0.3))
    return photo, known[..., 0] < 0.5


def reference_diffusion(partner, photo, holes):
    if partner == "navier-stokes":
        return cv2.inpaint(photo, holes.astype(np.uint8), 3, cv2.INPAINT_NS) / np.float32(255)
    # In float64: scikit-image solves a float32 photo in float32, the seams in float64.
    return np.clip(inpaint_biharmonic(photo / 255.0, holes, channel_axis=-1), 0, 1)


@pytest.mark.parametrize("partner", sorted(DIFFUSIONS))
def test_the_edge_is_diffusion_and_the_interior_mostly_the_network(photo_and_holes, partner):
    photo, holes = photo_and_holes
    blend = SeamBlend(partner=partner)
    network = np.full((*holes.shape, 3), 0.5, np.float32)
    blended = blend_seams(photo, holes, network, blend)

    diffused = reference_diffusion(partner, photo, holes)
    share = blend.interior_diffusion_share
    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    edge, interior = holes & (distance <= 2), holes & (distance >= 5)
    assert edge.sum() > 1000 and interior.sum() > 1000
    np.testing.assert_allclose(blended[edge], diffused[edge], atol=1e-5)
    np.testing.assert_allclose(
        blended[interior], share * diffused[interior] + (1 - share) * 0.5, atol=1e-5
    )
    ramp = holes & (distance > 2) & (distance < 5)
    weight = (blended[ramp] - 0.5) / (diffused[ramp] - 0.5)
    steady = np.abs(diffused[ramp] - 0.5) > 0.05
    assert np.all((weight[steady] > share - 1e-3) & (weight[steady] < 1 + 1e-3))
    np.testing.assert_array_equal(blended[~holes], network[~holes])


def test_the_default_partner_is_biharmonic_diffusion():
    assert seams.DEFAULT_SEAMS.partner == "biharmonic"


@pytest.mark.parametrize("partner", sorted(DIFFUSIONS))
def test_every_photo_type_is_blended(photo_and_holes, partner):
    photo, holes = photo_and_holes
    blend = SeamBlend(partner=partner)
    network = np.zeros((*holes.shape, 3), np.float32)
    eight_bit = blend_seams(photo, holes, network, blend)
    for other in (photo.astype(np.uint16) * 257, photo.astype(np.float32) / 255):
        blended = blend_seams(other, holes, network, blend)
        # OpenCV diffuses 8-bit colour jointly and other types per channel: close, not equal.
        assert np.abs(blended - eight_bit)[holes].mean() < 0.01


# A hole over each partner's full-resolution limit, smaller for the costlier biharmonic
# solve so that its fine reference stays affordable.
@pytest.mark.parametrize(
    ("partner", "size", "side"), [("navier-stokes", 1024, 620), ("biharmonic", 512, 300)]
)
def test_a_large_hole_is_diffused_coarsely_inside_and_finely_at_its_edge(
    monkeypatch, partner, size, side
):
    photo = cv2.resize(skimage.data.astronaut(), (size, size), interpolation=cv2.INTER_CUBIC)
    holes = np.zeros((size, size), bool)
    start = (size - side) // 2
    holes[start : start + side, start : start + side] = True
    assert holes.sum() > DIFFUSIONS[partner].full_resolution_hole_pixels
    given = photo.copy()
    given[holes] = 0  # what the hole hides is never read
    # Diffusion alone, so that its errors are not diluted by the network's.
    blend = SeamBlend(partner=partner, interior_diffusion_share=1.0)
    network = np.full((size, size, 3), 0.5, np.float32)
    coarse = blend_seams(given, holes, network, blend)
    everything = dataclasses.replace(DIFFUSIONS[partner], full_resolution_hole_pixels=holes.size)
    monkeypatch.setitem(DIFFUSIONS, partner, everything)
    fine = blend_seams(given, holes, network, blend)

    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    edge = holes & (distance <= 2)
    assert np.abs(coarse - fine)[edge].mean() < 0.01
    # Far from the edge, a large hole's diffusion is a guess either way: the coarse one
    # may differ from the fine one (biharmonic diffusion overshoots differently at each
    # size) but must not be a worse guess at what the hole hides.
    truth = photo / np.float32(255)
    coarse_error = np.abs(coarse - truth)[holes].mean()
    fine_error = np.abs(fine - truth)[holes].mean()
    assert coarse_error < 1.2 * fine_error
    np.testing.assert_array_equal(coarse[~holes], network[~holes])


def test_a_band_too_large_to_solve_is_filled_by_navier_stokes(monkeypatch):
    photo = cv2.resize(skimage.data.astronaut(), (512, 512), interpolation=cv2.INTER_CUBIC)
    holes = np.zeros((512, 512), bool)
    holes[106:406, 106:406] = True
    blend = SeamBlend(interior_diffusion_share=1.0)
    network = np.zeros((512, 512, 3), np.float32)
    solved = blend_seams(photo, holes, network, blend)
    capped = dataclasses.replace(DIFFUSIONS["biharmonic"], largest_band_pixels=1000)
    monkeypatch.setitem(DIFFUSIONS, "biharmonic", capped)
    fallback = blend_seams(photo, holes, network, blend)

    distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    edge = holes & (distance <= 2)
    navier_stokes = reference_diffusion("navier-stokes", photo, holes)
    assert np.abs(fallback - navier_stokes)[edge].mean() < 0.01
    assert np.abs(solved - navier_stokes)[edge].mean() > 0.02


def test_a_hole_known_only_along_thin_lines_is_diffused_at_full_size():
    photo = skimage.data.astronaut()[::2, ::2].copy()
    holes = np.ones(photo.shape[:2], bool)
    holes[::16, :] = holes[:, ::16] = False
    assert holes.sum() > DIFFUSIONS["biharmonic"].full_resolution_hole_pixels
    blend = SeamBlend(interior_diffusion_share=1.0)
    blended = blend_seams(photo, holes, np.zeros((*holes.shape, 3), np.float32), blend)
    diffused = reference_diffusion("navier-stokes", photo, holes)
    np.testing.assert_allclose(blended[holes], diffused[holes], atol=1e-5)


def test_no_hole_and_bad_arguments(photo_and_holes):
    photo, holes = photo_and_holes
    network = np.zeros((*holes.shape, 3), np.float32)
    assert blend_seams(photo, np.zeros_like(holes), network) is network
    with pytest.raises(ValueError, match="share their height and width"):
        blend_seams(photo, holes[:-1], network)
    with pytest.raises(ValueError, match="partner must be one of biharmonic, navier-stokes"):
        SeamBlend(partner="telea")
    with pytest.raises(ValueError, match="edge_width < ramp_end"):
        SeamBlend(edge_width=5, ramp_end=2)
    with pytest.raises(ValueError, match=r"interior_diffusion_share must lie in \[0, 1\]"):
        SeamBlend(interior_diffusion_share=1.5)
    with pytest.raises(ValueError, match="radius"):
        SeamBlend(radius=0)
