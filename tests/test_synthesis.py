"""Guided exemplar synthesis (`holefill.inference.synthesis`): real texture from the photo
where the network's fill is a blur, in the colours that the guide asks for."""

import dataclasses

import cv2
import numpy as np
import pytest
from skimage import data as skimage_data

from holefill.inference.synthesis import SynthesisConfig, synthesize


def noise_texture(shape, seed=0, sigma=1.0):
    """A textured grey photo: blurred noise, 0.2 to 0.8."""
    noise = np.random.default_rng(seed).random(shape, np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), sigma)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    return 0.2 + 0.6 * noise


def detail(image, holes):
    """The standard deviation of the image minus its blur, over the holes."""
    grey = image.mean(axis=2)
    return float((grey - cv2.GaussianBlur(grey, (0, 0), 2.0))[holes].std())


def square_hole(size, start, stop):
    holes = np.zeros((size, size), bool)
    holes[start:stop, start:stop] = True
    return holes


def test_a_blurred_guide_gets_the_photos_texture_back_and_known_pixels_stay():
    grey = noise_texture((96, 96))
    colour = np.repeat(grey[..., None], 3, axis=2)
    holes = square_hole(96, 30, 66)
    guide = np.full_like(colour, grey.mean())  # the network's blur: the right mean, no detail
    filled = synthesize(colour, holes, guide, seed=0)
    np.testing.assert_array_equal(filled[~holes], colour[~holes])
    # The hole's detail is the photo's own, where the guide has none.
    assert detail(filled, holes) > 0.7 * detail(colour, holes)
    assert detail(guide, holes) < 1e-6
    # Every filled value is one the photo has: the texture is copied, not averaged.
    assert filled[holes].min() >= colour.min() and filled[holes].max() <= colour.max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_guide_with_the_structure_gets_the_grain_and_keeps_the_structure(seed):
    # Grain over larger blobs, the blobs also in the blue channel; the guide is the photo
    # blurred, as the network's fill is. Each finer level starts from the coarser level's
    # texture: started from the guide's blur instead, the search kept 0.78-0.84 of the grain.
    blobs = noise_texture((128, 128), seed=seed + 10, sigma=8.0)
    grey = 0.5 * noise_texture((128, 128), seed=seed) + 0.5 * blobs
    colour = np.stack([grey, 0.8 * grey, 0.3 + 0.4 * blobs], axis=-1).astype(np.float32)
    holes = square_hole(128, 36, 92)
    guide = cv2.GaussianBlur(colour, (0, 0), 4.0)
    filled = synthesize(colour, holes, guide, seed=0)
    assert detail(filled, holes) > 0.88 * detail(colour, holes)
    assert detail(guide, holes) < 0.12 * detail(colour, holes)
    structure_error = np.abs(cv2.GaussianBlur(filled, (0, 0), 4.0) - guide)[holes].mean()
    assert structure_error < 0.015, structure_error


def test_a_periodic_pattern_is_continued_through_the_hole():
    rows, columns = np.mgrid[0:96, 0:96]
    stripes = (0.5 + 0.4 * np.sin(2 * np.pi * (rows + 2 * columns) / 12)).astype(np.float32)
    colour = np.repeat(stripes[..., None], 3, axis=2)
    holes = square_hole(96, 34, 62)
    guide = np.where(holes[..., None], np.float32(0.5), colour)
    filled = synthesize(colour, holes, guide, seed=0)
    error = np.abs(filled - colour)[holes].mean()
    assert error < 0.05, error
    assert np.abs(guide - colour)[holes].mean() > 0.2


def test_the_guide_decides_which_texture_goes_where():
    size = 96
    texture = noise_texture((size, size), seed=1)
    red = np.stack([texture, 0.2 * texture, 0.2 * texture], axis=-1)
    blue = np.stack([0.2 * texture, 0.2 * texture, texture], axis=-1)
    columns = np.arange(size)[None, :, None]
    colour = np.where(columns < size // 2, red, blue)
    holes = square_hole(size, 28, 68)
    # The guide puts blue where red borders the hole, and red where blue does.
    guide = np.where(columns < size // 2, [[[0.1, 0.1, 0.5]]], [[[0.5, 0.1, 0.1]]])
    guide = np.broadcast_to(guide, colour.shape).astype(np.float32)
    filled = synthesize(colour, holes, guide, seed=0)
    left = holes & (columns[..., 0] < size // 2 - 4)
    right = holes & (columns[..., 0] >= size // 2 + 4)
    assert filled[left][:, 2].mean() > filled[left][:, 0].mean()
    assert filled[right][:, 0].mean() > filled[right][:, 2].mean()
    # Without the guide's pull, the neighbours' colours win at the hole's sides (the
    # copies compared as the search chose them: fused, both meet the known colours).
    copies = SynthesisConfig(fuse=False)
    guided = synthesize(colour, holes, guide, copies, seed=0)
    unguided = dataclasses.replace(copies, coarse_guide_weight=0.0, fine_guide_weight=0.0)
    plain = synthesize(colour, holes, guide, unguided, seed=0)
    assert plain[left][:, 0].mean() > guided[left][:, 0].mean()


def test_a_seed_gives_the_same_fill_and_another_seed_another():
    colour = np.repeat(noise_texture((64, 64), seed=2)[..., None], 3, axis=2)
    holes = square_hole(64, 20, 44)
    guide = np.full_like(colour, 0.5)
    first = synthesize(colour, holes, guide, seed=3)
    np.testing.assert_array_equal(first, synthesize(colour, holes, guide, seed=3))
    assert np.abs(first - synthesize(colour, holes, guide, seed=4))[holes].mean() > 0.01


def test_without_a_wholly_known_patch_the_guide_is_returned():
    colour = np.random.default_rng(0).random((32, 32, 3), np.float32)
    holes = np.ones((32, 32), bool)
    holes[::4, ::4] = False  # known pixels, but no 7x7 patch without a hole
    guide = np.full_like(colour, 0.25)
    filled = synthesize(colour, holes, guide)
    np.testing.assert_array_equal(filled[holes], guide[holes])
    np.testing.assert_array_equal(filled[~holes], colour[~holes])


def test_levels_above_the_working_side_copy_full_resolution_texture():
    grey = noise_texture((160, 200), seed=5)
    colour = np.repeat(grey[..., None], 3, axis=2)
    holes = np.zeros(grey.shape, bool)
    holes[60:100, 70:130] = True
    guide = np.full_like(colour, grey.mean())
    config = SynthesisConfig(working_side=48)
    filled = synthesize(colour, holes, guide, config, seed=0)
    np.testing.assert_array_equal(filled[~holes], colour[~holes])
    assert detail(filled, holes) > 0.5 * detail(colour, holes)


def test_a_region_is_searched_at_the_scale_of_its_photo():
    from holefill.inference.synthesis import _pyramid

    holes = np.zeros((200, 200), bool)
    holes[90:100, :] = True  # thin: only the working side calls for coarser levels
    config = SynthesisConfig(working_side=100)
    shapes, searched = _pyramid(holes, config, (200, 200))
    assert (shapes, searched) == ([(200, 200), (100, 100)], [False, True])
    # A piece of an 800 px photo halves as often as the photo does, and is searched where
    # the photo's level fits the working side.
    shapes, searched = _pyramid(holes, config, (800, 800))
    assert shapes == [(200, 200), (100, 100), (50, 50), (25, 25)]
    assert searched == [False, False, False, True]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"patch_size": 6}, "odd"),
        ({"patch_size": 1}, "odd"),
        ({"fine_guide_weight": -1.0}, "fine_guide_weight"),
        ({"coarse_guide_weight": float("inf")}, "coarse_guide_weight"),
        ({"iterations": 0}, "iterations"),
        ({"features": 0}, "features"),
        ({"smallest_side": 5}, "smallest_side"),
        ({"working_side": 10}, "working_side"),
        ({"coarsest_thickness": 0}, "coarsest_thickness"),
        ({"grain_weight": -1.0}, "grain_weight"),
        ({"coherence": 1.0}, "coherence"),
        ({"refine_radius": -1}, "refine_radius"),
    ],
)
def test_configs_out_of_range_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SynthesisConfig(**changes)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="share"):
        synthesize(np.zeros((8, 8, 3), np.float32), np.zeros((8, 9), bool), np.zeros((8, 8, 3)))


def test_the_fill_meets_the_known_pixels_without_a_step():
    # Grain over a ramp of brightness; the guide, as a network's fill may be, too bright.
    # The copies are fused with the known pixels in the gradient domain: across the hole's
    # edge the fill steps little more than the photo does between neighbours.
    rows = np.arange(128, dtype=np.float32)[:, None] / 128
    grey = 0.15 + 0.5 * rows + 0.3 * (noise_texture((128, 128), seed=4) - 0.5)
    colour = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    holes = square_hole(128, 40, 88)
    guide = np.where(holes[..., None], cv2.GaussianBlur(colour, (0, 0), 4.0) + 0.15, colour)

    def edge_step(image):
        inner = image[40:88, 40].mean(axis=-1), image[40:88, 87].mean(axis=-1)
        outer = image[40:88, 39].mean(axis=-1), image[40:88, 88].mean(axis=-1)
        return float(np.mean([np.abs(i - o).mean() for i, o in zip(inner, outer, strict=True)]))

    photo_step = edge_step(colour)
    fused = synthesize(colour, holes, guide, seed=0)
    unfused = synthesize(colour, holes, guide, SynthesisConfig(fuse=False), seed=0)
    assert edge_step(fused) < 2 * photo_step, (edge_step(fused), photo_step)
    assert edge_step(unfused) > 4 * photo_step, (edge_step(unfused), photo_step)
    np.testing.assert_array_equal(fused[~holes], colour[~holes])


def test_the_grain_follows_the_surroundings_where_the_guide_is_smooth():
    # Smooth patches of the hole's colour lie a little way off; the grain is around the
    # hole. The guide, flat, fits the smooth patches best; the hole must get the grain.
    texture = 0.5 + 0.6 * (noise_texture((128, 160), seed=6) - 0.5)
    grey = np.where(np.arange(160)[None, :] < 112, texture, np.float32(0.5)).astype(np.float32)
    colour = np.repeat(grey[..., None], 3, axis=2)
    holes = np.zeros(grey.shape, bool)
    holes[40:88, 30:78] = True
    guide = np.where(holes[..., None], np.float32(0.5), colour)

    def texture_ratio(image):
        laplacian = cv2.Laplacian(image.mean(axis=2), cv2.CV_32F)
        return float(laplacian[holes].std() / cv2.Laplacian(grey, cv2.CV_32F)[holes].std())

    assert texture_ratio(synthesize(colour, holes, guide, seed=0)) > 0.8
    no_grain = SynthesisConfig(grain_weight=0.0)
    assert texture_ratio(synthesize(colour, holes, guide, no_grain, seed=0)) < 0.5


def test_levels_above_the_working_side_are_refined_at_their_own_resolution():
    # A photo four times the working side: matches copied up from there land a pixel or two
    # off what this resolution shows, and copy dithered blocks (more detail than the photo
    # has); searched again within a few pixels at each level, the fill is nearer the truth.
    photo = skimage_data.coffee().astype(np.float32) / 255
    height, width = photo.shape[:2]
    holes = np.zeros((height, width), bool)
    holes[height // 3 : height // 2, width // 3 : width // 2] = True
    guide = np.where(holes[..., None], cv2.GaussianBlur(photo, (0, 0), 6.0), photo)
    refined, copied = (
        [
            synthesize(photo, holes, guide, SynthesisConfig(working_side=128, **changes), seed=s)
            for s in (0, 1)
        ]
        for changes in ({}, {"refine_radius": 0})
    )

    def error(fills):
        return np.mean([np.abs(fill - photo)[holes].mean() for fill in fills])

    def excess_detail(fills):
        return np.mean([detail(fill, holes) for fill in fills]) / detail(photo, holes)

    assert error(refined) < 0.95 * error(copied), (error(refined), error(copied))
    assert excess_detail(refined) < 0.8 * excess_detail(copied), (
        excess_detail(refined),
        excess_detail(copied),
    )
