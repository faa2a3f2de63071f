"""Edges that cross a hole's edge, continued through the hole in the synthesis's guide.

A network trained with pixel losses blurs what it is unsure of, and an exemplar search
follows the guide it is given: a cup's rim or a shelf's edge that enters the hole stops at
its edge. Structure propagation (Sun et al., "Image Completion with Structure
Propagation", SIGGRAPH 2005; Cao et al., "Geometric Structure Guided Image Completion",
2011) completes such curves first and makes the texture follow them. Here, without a
user's strokes:

1. edges (Canny on the luma) in a ring of known pixels around the hole, each kept if it
   runs towards the hole, with the colours on either side of it where it meets the hole;
2. paired: two edges are one if each points at the other within `PAIRING_ANGLE` and the
   colours on their sides agree, left with right (walking in, then out);
3. completed as a cubic Hermite curve from one end to the other, its tangents the edges'
   directions, and drawn into the guide as a sharp step between the two sides' colours,
   a band on either side of the curve, so that the search takes patches with that edge.

Where no two edges pair, the guide is left as the network made it.
"""

import dataclasses
import math

import cv2
import numpy as np

from holefill.imaging.photos import LUMA_WEIGHTS

# Two edges pair when each one's direction is within this angle of the line to the other.
PAIRING_ANGLE = math.radians(20)
# ... and the colours on their sides differ by at most this (RGB distance in [0, 1]).
SIDE_COLOUR_TOLERANCE = 0.12
# An edge is an edge where its sides differ by at least this.
SIDE_CONTRAST = 0.15
# At least this share of a curve between two ends must lie in the hole.
CURVE_IN_HOLE = 0.8
# An edge is straight enough to continue where its points' spread across its axis is at
# most this share of their spread along it (variances).
STRAIGHTNESS = 0.05
# At most this many edges, the strongest, are paired in a region.
MOST_EDGES = 64
# Canny's thresholds on the 8-bit luma (after a Gaussian blur of sigma 1).
CANNY_THRESHOLDS = (40, 90)


@dataclasses.dataclass(frozen=True)
class EdgeEnd:
    """An edge where it meets the hole: `point` (row, column), `direction` (unit, into
    the hole), and the colours on its `left` and `right` (looking along `direction`)."""

    point: np.ndarray
    direction: np.ndarray
    left: np.ndarray
    right: np.ndarray


def continue_edges(colour, holes, guide):
    """`guide` with the edges that cross the holes' edge continued through them.

    Args:
        colour: float32 `(height, width, 3)` in [0, 1]; only its known pixels are read.
        holes: bool `(height, width)`, True on the hole.
        guide: float32 `(height, width, 3)`, the network's fill.

    Returns:
        float32 `(height, width, 3)`: `guide` with each continued edge drawn into the
        holes; the guide's other pixels unchanged.
    """
    ring = ring_width(holes.shape)
    ends = edge_ends(colour, holes, ring)
    # The strongest edges: pairing costs the square of their number.
    ends.sort(key=lambda end: -float(np.linalg.norm(end.left - end.right)))
    pairs = paired(ends[:MOST_EDGES], holes)
    if not pairs:
        return guide
    guide = guide.copy()
    for first, second in pairs:
        _draw(guide, holes, first, second, max(2, ring // 2))
    return guide


def ring_width(shape):
    """The ring of known pixels, around the hole, in which edges are found: wider on a
    larger photo, whose edges are as many pixels wider."""
    return max(8, round(min(shape) / 48))


def edge_ends(colour, holes, ring):
    """The `EdgeEnd`s of the edges found in the known ring `ring` pixels wide."""
    luma = colour @ LUMA_WEIGHTS
    luma = cv2.GaussianBlur(luma, (0, 0), 1.0)
    edges = cv2.Canny(np.clip(luma * 255, 0, 255).astype(np.uint8), *CANNY_THRESHOLDS) > 0
    distance = cv2.distanceTransform((~holes).view(np.uint8), cv2.DIST_L2, 3)
    # The first pixels outside the hole are where a mask's own edge would be found.
    edges &= (distance > 2) & (distance <= ring)
    _, labels = cv2.connectedComponents(edges.view(np.uint8), connectivity=8)
    rows, columns = np.nonzero(edges)
    if not rows.size:
        return []
    # Each edge's pixels, grouped by sorting their labels: a mask per label would cost the
    # photo's size per edge.
    order = np.argsort(labels[rows, columns], kind="stable")
    rows, columns = rows[order], columns[order]
    splits = np.flatnonzero(np.diff(labels[rows, columns])) + 1
    ends = []
    for edge_rows, edge_columns in zip(
        np.split(rows, splits), np.split(columns, splits), strict=True
    ):
        points = np.stack([edge_rows, edge_columns], axis=1).astype(np.float32)
        distances = distance[edge_rows, edge_columns]
        # An edge that runs along the hole's edge, not into it, says nothing of where to go.
        if distances.max() - distances.min() < 0.7 * (ring - 2):
            continue
        near = points[distances <= distances.min() + 1].mean(axis=0)
        far = points[distances >= distances.max() - 1].mean(axis=0)
        # The edge's principal axis (the ends alone bend where the edge passes a corner
        # of the hole), turned towards the hole.
        centred = points - points.mean(axis=0)
        spread, axes = np.linalg.eigh(centred.T @ centred)
        # A wiggle of grain or fur is no edge to continue: only nearly straight ones.
        if spread[0] > STRAIGHTNESS * spread[1]:
            continue
        direction = axes[:, -1].astype(np.float32)
        if direction @ (near - far) < 0:
            direction = -direction
        sides = _sides(colour, holes, near, direction, ring)
        if sides is None:
            continue
        ends.append(EdgeEnd(near, direction, *sides))
    return ends


def _sides(colour, holes, point, direction, ring):
    """The colours on the left and right of an edge, just short of the hole, or None where
    either side is in the hole or they do not differ."""
    normal = np.array([-direction[1], direction[0]], np.float32)
    base = point - direction * 1.5
    offset = max(2.0, ring / 3)
    colours = []
    for sign in (1.0, -1.0):
        row, column = np.round(base + sign * offset * normal).astype(int)
        if not (0 <= row < holes.shape[0] and 0 <= column < holes.shape[1]):
            return None
        if holes[row, column]:
            return None
        colours.append(colour[row, column].astype(np.float32))
    left, right = colours
    if np.linalg.norm(left - right) < SIDE_CONTRAST:
        return None
    return left, right


def paired(ends, holes):
    """Pairs of `EdgeEnd`s that are one edge across the hole, best first, each end in one
    pair at most."""
    cosine = math.cos(PAIRING_ANGLE)
    candidates = []
    for i, first in enumerate(ends):
        for j in range(i + 1, len(ends)):
            second = ends[j]
            between = second.point - first.point
            span = float(np.hypot(*between))
            if span < 3:
                continue
            between /= span
            alignment = float(first.direction @ between), float(-second.direction @ between)
            if min(alignment) < cosine:
                continue
            # Walking in along the first and out along the second, the first's left is the
            # second's right.
            mismatch = max(
                float(np.linalg.norm(first.left - second.right)),
                float(np.linalg.norm(first.right - second.left)),
            )
            if mismatch > SIDE_COLOUR_TOLERANCE:
                continue
            curve = _curve(first, second)
            rows, columns = np.round(curve).astype(int).T
            inside = (
                (rows >= 0) & (rows < holes.shape[0]) & (columns >= 0) & (columns < holes.shape[1])
            )
            if not inside.all() or holes[rows, columns].mean() < CURVE_IN_HOLE:
                continue
            cost = (2 - sum(alignment)) + mismatch / SIDE_COLOUR_TOLERANCE
            candidates.append((cost, i, j))
    used, pairs = set(), []
    for _, i, j in sorted(candidates):
        if i in used or j in used:
            continue
        used.update((i, j))
        pairs.append((ends[i], ends[j]))
    return pairs


def _curve(first, second):
    """Points (row, column) of the cubic Hermite curve from `first` to `second`, half a
    pixel apart at most."""
    span = float(np.hypot(*(second.point - first.point)))
    steps = max(2, math.ceil(span * 3))
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    h00, h10 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t
    h01, h11 = -2 * t**3 + 3 * t**2, t**3 - t**2
    return (
        h00 * first.point
        + h10 * first.direction * span
        + h01 * second.point
        + h11 * (-second.direction) * span
    )


def _draw(guide, holes, first, second, half_width):
    """The curve from `first` to `second` drawn into `guide`'s holes as a step between the
    sides' colours, `half_width` pixels on either side, each side's colour blending from
    the first end's to the second's."""
    curve = _curve(first, second)
    tangents = np.gradient(curve, axis=0)
    tangents /= np.maximum(np.linalg.norm(tangents, axis=1, keepdims=True), 1e-6)
    normals = np.stack([-tangents[:, 1], tangents[:, 0]], axis=1)
    t = np.linspace(0.0, 1.0, len(curve), dtype=np.float32)[:, None]
    left = (1 - t) * first.left + t * second.right
    right = (1 - t) * first.right + t * second.left
    for step in np.arange(-half_width, half_width + 0.25, 0.5, dtype=np.float32):
        points = np.round(curve + step * normals).astype(int)
        rows, columns = points.T
        inside = (rows >= 0) & (rows < holes.shape[0]) & (columns >= 0) & (columns < holes.shape[1])
        rows, columns = rows[inside], columns[inside]
        in_hole = holes[rows, columns]
        side = left if step > 0 else right
        guide[rows[in_hole], columns[in_hole]] = side[inside][in_hole]
