"""Edges continued through a hole (`holefill.inference.structure`): found where they enter
the hole, paired across it, drawn into the synthesis's guide."""

import cv2
import numpy as np

from holefill.inference.structure import continue_edges, edge_ends, paired, ring_width


def two_tones(slope, offset, size=128, seed=0):
    """A dark region above the line `row = offset + slope * column`, a light one below,
    each with a little grain."""
    rows, columns = np.mgrid[0:size, 0:size].astype(np.float32)
    above = rows < offset + slope * columns
    grain = 0.04 * np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 1.0)[..., None]
    dark, light = np.float32([0.25, 0.2, 0.5]), np.float32([0.8, 0.6, 0.3])
    return (np.where(above[..., None], dark, light) + grain).astype(np.float32)


def square_holes(size, start, stop):
    holes = np.zeros((size, size), bool)
    holes[start:stop, start:stop] = True
    return holes


def test_an_edge_through_the_hole_is_found_on_both_sides_and_drawn_where_it_runs():
    colour = two_tones(0.3, 50)
    holes = square_holes(128, 44, 84)
    ends = edge_ends(colour, holes, ring_width(holes.shape))
    assert len(ends) == 2
    left, right = sorted(ends, key=lambda end: end.point[1])
    # Each points into the hole along the edge, the dark side on the left going right.
    slope = np.float32([0.3, 1.0]) / np.hypot(0.3, 1.0)
    assert left.direction @ slope > 0.97 and right.direction @ -slope > 0.97
    assert left.left.sum() < left.right.sum() and right.right.sum() < right.left.sum()
    assert len(paired(ends, holes)) == 1
    blurred = np.where(holes[..., None], cv2.GaussianBlur(colour, (0, 0), 12.0), colour)
    guide = continue_edges(colour, holes, blurred)
    np.testing.assert_array_equal(guide[~holes], blurred[~holes])
    # In the middle of the hole the guide steps from dark to light where the edge runs.
    column = guide[:, 64].sum(axis=1)
    step = int(np.argmax(np.abs(np.diff(column[44:84])))) + 44
    assert abs(step + 0.5 - (50 + 0.3 * 64)) <= 1.5, step


def test_edges_that_do_not_meet_across_the_hole_are_left_alone():
    # Two edges entering from the left and right at heights that no smooth curve of their
    # directions joins.
    rows = np.arange(128, dtype=np.float32)[:, None]
    columns = np.arange(128)[None, :]
    boundary = np.where(columns < 64, 55.0, 75.0)
    colour = np.where((rows < boundary)[..., None], [0.25, 0.2, 0.5], [0.8, 0.6, 0.3])
    colour = colour.astype(np.float32)
    holes = square_holes(128, 44, 84)
    ends = edge_ends(colour, holes, ring_width(holes.shape))
    assert len(ends) == 2
    assert paired(ends, holes) == []
    guide = np.full_like(colour, 0.5)
    np.testing.assert_array_equal(continue_edges(colour, holes, guide), guide)


def test_grain_draws_no_edges():
    noise = np.random.default_rng(3).random((128, 128), np.float32)
    grey = cv2.GaussianBlur(noise, (0, 0), 1.5)
    grey = 0.2 + 0.6 * (grey - grey.min()) / (grey.max() - grey.min())
    colour = np.repeat(grey[..., None], 3, axis=2)
    holes = square_holes(128, 40, 88)
    guide = np.full_like(colour, float(grey.mean()))
    np.testing.assert_array_equal(continue_edges(colour, holes, guide), guide)


def test_a_hole_in_a_plain_photo_leaves_the_guide_as_it_is():
    colour = np.full((64, 64, 3), 0.4, np.float32)
    holes = square_holes(64, 20, 40)
    guide = np.full_like(colour, 0.6)
    assert edge_ends(colour, holes, ring_width(holes.shape)) == []
    np.testing.assert_array_equal(continue_edges(colour, holes, guide), guide)
