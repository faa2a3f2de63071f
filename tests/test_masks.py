import itertools

import cv2
import numpy as np
import pytest

from holefill.masks.buckets import HOLE_RATIO_BUCKETS, bucket_of, hole_ratio
from holefill.masks.generator import MaskGenerator

RANGES = [(0.01, 0.6), (0.5, 0.51)] + [bucket.range for bucket in HOLE_RATIO_BUCKETS]
SIZES = [(64, 64), (256, 256), (96, 200), (300, 128)]
KINDS = ["irregular", "random_blocks", "region", "brush"]


def check_mask(mask, height, width):
    assert mask.shape == (height, width, 1)
    assert mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("height, width", SIZES)
@pytest.mark.parametrize("ratio_range", RANGES)
def test_hole_ratio_lands_in_requested_range(kind, height, width, ratio_range):
    generator = MaskGenerator(seed=0)
    lower, upper = ratio_range
    for _ in range(10):
        mask = getattr(generator, kind)(height, width, hole_ratio=ratio_range)
        check_mask(mask, height, width)
        assert lower < hole_ratio(mask) <= upper


def test_irregular_at_1024_pixels_lands_in_narrow_range():
    mask = MaskGenerator(seed=0).irregular(1024, 768, hole_ratio=(0.5, 0.6))
    check_mask(mask, 1024, 768)
    assert 0.5 < hole_ratio(mask) <= 0.6


def test_ratios_spread_over_the_range():
    generator = MaskGenerator(seed=1)
    ratios = [hole_ratio(generator.irregular(128, 128)) for _ in range(100)]
    assert min(ratios) < 0.15
    assert max(ratios) > 0.45


def test_generated_masks_fall_in_their_bucket():
    generator = MaskGenerator(seed=2)
    for index, bucket in enumerate(HOLE_RATIO_BUCKETS):
        for _ in range(5):
            assert bucket_of(hole_ratio(generator.irregular(128, 128, bucket.range))) == index


@pytest.mark.parametrize("method", ["irregular", "random_blocks", "region", "sample"])
def test_same_seed_reproduces_and_consecutive_masks_differ(method):
    first = getattr(MaskGenerator(seed=7), method)
    second = getattr(MaskGenerator(seed=7), method)
    masks_a = [first(96, 128) for _ in range(4)]
    masks_b = [second(96, 128) for _ in range(4)]
    for mask_a, mask_b in zip(masks_a, masks_b, strict=True):
        np.testing.assert_array_equal(mask_a, mask_b)
    for previous, following in itertools.pairwise(masks_a):
        assert not np.array_equal(previous, following)


def test_different_seeds_differ():
    assert not np.array_equal(
        MaskGenerator(seed=1).irregular(64, 64), MaskGenerator(seed=2).irregular(64, 64)
    )


def test_centre_block():
    mask = MaskGenerator().centre_block(200, 100, hole_ratio=0.25)
    check_mask(mask, 200, 100)
    assert hole_ratio(mask) == pytest.approx(0.25)
    assert mask[100, 50, 0] == 0
    assert mask[0, 0, 0] == 1
    holes = np.argwhere(mask[..., 0] == 0)
    np.testing.assert_array_equal(holes.min(axis=0), [50, 25])
    np.testing.assert_array_equal(holes.max(axis=0), [149, 74])


def test_centre_blocks_drawn_from_a_range_are_centred_and_in_the_range():
    generator = MaskGenerator(seed=4)
    ratios = set()
    for _ in range(10):
        mask = generator.sample(48, 64, hole_ratio=(0.2, 0.3), kinds={"centre_block": 1.0})
        check_mask(mask, 48, 64)
        ratios.add(hole_ratio(mask))
        assert 0.2 < hole_ratio(mask) <= 0.3
        holes = np.argwhere(mask[..., 0] == 0)
        top, left = holes.min(axis=0)
        bottom, right = holes.max(axis=0)
        assert len(holes) == (bottom - top + 1) * (right - left + 1), "one rectangle"
        assert abs(top - (47 - bottom)) <= 1 and abs(left - (63 - right)) <= 1, "centred"
    assert len(ratios) > 3, "the ratio is drawn, not fixed"
    with pytest.raises(ValueError, match="widen"):
        generator.centre_block(5, 5, hole_ratio=(0.5, 0.51))


def test_sample_draws_only_the_given_kinds():
    generator = MaskGenerator(seed=3)
    for _ in range(10):
        mask = generator.sample(64, 64, hole_ratio=(0.2, 0.3), kinds={"region": 1.0})
        assert 0.2 < hole_ratio(mask) <= 0.3
        # A region is one hole, unlike strokes and blocks, which are scattered.
        component_count, _ = cv2.connectedComponents((mask[..., 0] == 0).astype(np.uint8))
        assert component_count == 2  # the hole and the background


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"hole_ratio": (0.6, 0.1)}, "lower < upper"),
        ({"hole_ratio": (0.1, 1.5)}, "lower < upper"),
        ({"hole_ratio": 0.3}, "pair"),
        ({"hole_ratio": (0.5, 0.5001)}, "widen"),
        ({"kinds": {"stars": 1.0}}, "unknown mask kinds"),
        ({"kinds": {"region": 0.0}}, "positive sum"),
    ],
)
def test_invalid_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        MaskGenerator().sample(64, 64, **arguments)


def test_bucket_edges():
    assert bucket_of(0.1) == 0
    assert bucket_of(0.1000001) == 1
    assert bucket_of(0.6) == 5
    assert bucket_of(0.01) is None
    assert bucket_of(0.005) is None
    assert bucket_of(0.65) is None
    assert [bucket.label for bucket in HOLE_RATIO_BUCKETS] == [
        "(1%,10%]",
        "(10%,20%]",
        "(20%,30%]",
        "(30%,40%]",
        "(40%,50%]",
        "(50%,60%]",
    ]


def test_hole_ratio_counts_zeros_as_holes():
    mask = np.ones((10, 10, 1), np.float32)
    mask[:3] = 0
    assert hole_ratio(mask) == pytest.approx(0.3)


def test_brush_paths_are_thick_and_gathered():
    generator = MaskGenerator(seed=3)
    for _ in range(10):
        holes = (generator.brush(256, 256, hole_ratio=(0.2, 0.3))[..., 0] == 0).astype(np.uint8)
        # Painted with a broad brush: most hole pixels survive an erosion by 3 pixels,
        # which removes the strokes of the irregular kind.
        eroded = cv2.erode(holes, np.ones((7, 7), np.uint8))
        assert eroded.sum() > 0.4 * holes.sum()
        count, _ = cv2.connectedComponents(holes)
        assert count - 1 <= 4, "over one object, not scattered"
