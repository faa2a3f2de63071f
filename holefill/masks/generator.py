"""Procedural hole masks for training and generated validation sets.

Every mask returned here is float32 of shape `(height, width, 1)` with **1 = known pixel and
0 = hole** (`holefill.masks.canvas`).

Procedural masks are drawn towards a hole-ratio range `(lower, upper)`: a result's ratio
always satisfies `lower < ratio <= upper`, the same half-open intervals as the buckets of the
NVIDIA test set, so that a mask drawn for a bucket's range falls in that bucket.
"""

import math

import cv2
import numpy as np

from holefill.masks.canvas import check_size, to_mask

MASK_KINDS = ("irregular", "random_blocks", "region", "brush", "centre_block")

# Mostly strokes, as in the partial-convolution paper, with some blocks and large regions so
# that the model also learns to fill wide holes that no stroke mask produces.
DEFAULT_MASK_KIND_PROBABILITIES = {"irregular": 0.7, "random_blocks": 0.15, "region": 0.15}

# The two kinds of hole that evaluation reports apart: thin strokes (scratches, wires, the
# NVIDIA test masks) and what a user paints over an object to remove it (a blob, a box or a
# thick brush path).
MASK_FAMILIES = {
    "strokes": {"irregular": 1.0},
    "objects": {"region": 1.0, "random_blocks": 1.0, "brush": 1.0},
}

# Once this many shapes have overshot the range, a mask already inside the range is accepted
# even if it is short of its drawn target: further tries would only add tiny specks.
_OVERSHOOTS_BEFORE_SETTLING = 3
# Overshooting shapes are halved in size, down to this fraction of their initial size.
_SMALLEST_SHAPE_FACTOR = 1 / 8
_MAX_SHAPES_PER_MASK = 2000
_REGION_SEARCH_STEPS = 24


def validate_hole_ratio(hole_ratio):
    """Checks a `(lower, upper)` hole-ratio range and returns it as a pair of floats."""
    try:
        lower, upper = (float(value) for value in hole_ratio)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"hole_ratio must be a (lower, upper) pair of numbers, got {hole_ratio!r}"
        ) from error
    if not 0.0 <= lower < upper <= 1.0:
        raise ValueError(f"hole_ratio must satisfy 0 <= lower < upper <= 1, got {hole_ratio!r}")
    return lower, upper


def validate_mask_kinds(kinds):
    """Checks a `{kind: weight}` mapping and returns it with weights summing to 1."""
    unknown = set(kinds) - set(MASK_KINDS)
    if unknown:
        raise ValueError(
            f"unknown mask kinds {sorted(unknown)}: expected some of {list(MASK_KINDS)}"
        )
    if any(weight < 0 for weight in kinds.values()) or sum(kinds.values()) <= 0:
        raise ValueError(
            f"mask kind weights must be non-negative with a positive sum, got {kinds!r}"
        )
    total = sum(kinds.values())
    return {kind: weight / total for kind, weight in kinds.items()}


def _hole_count_bounds(hole_ratio, pixel_count):
    """The smallest and largest hole-pixel counts whose ratio lies in `(lower, upper]`."""
    lower, upper = validate_hole_ratio(hole_ratio)
    # Start from the rounded products and correct them with the very division that
    # `hole_ratio` performs, so that a count accepted here is never rejected by a bucket test.
    smallest = math.floor(lower * pixel_count) + 1
    while smallest > 1 and (smallest - 1) / pixel_count > lower:
        smallest -= 1
    while smallest / pixel_count <= lower:
        smallest += 1
    largest = math.floor(upper * pixel_count)
    while (largest + 1) / pixel_count <= upper:
        largest += 1
    while largest / pixel_count > upper:
        largest -= 1
    if smallest > largest:
        raise ValueError(
            f"no mask of {pixel_count} pixels has a hole ratio in ({lower}, {upper}]: "
            "widen the range"
        )
    return smallest, largest


class MaskGenerator:
    """Draws random hole masks from one seedable random generator.

    The generator is created once: consecutive masks differ, and the same seed reproduces
    the same sequence of masks. (Re-seeding on every call, as PConv-Keras did, makes every
    validation mask identical.)

    Args:
        seed: an int, a `numpy.random.Generator` (used as is, not copied), or None for
            fresh entropy.

    Example:

    ```python
    generator = MaskGenerator(seed=0)
    mask = generator.sample(256, 256)  # float32 (256, 256, 1), 1 = known, 0 = hole
    ```
    """

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)

    def irregular(self, height, width, hole_ratio=(0.01, 0.6)):
        """Free-form strokes: lines, filled circles and ellipse outlines.

        The shapes follow PConv-Keras (sizes scale with `0.03 * (height + width)`), but they
        are added one by one until the hole ratio reaches a target drawn uniformly from
        `hole_ratio`; a shape that would overshoot the range is undone and tried smaller.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: `(lower, upper)`; the mask's hole ratio lies in `(lower, upper]`.

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        scale = max(3, int(0.03 * (height + width)))

        def draw_stroke(canvas, size_factor):
            thickness = self._shape_size(scale, size_factor)
            kind = self.rng.integers(3)
            if kind == 0:
                start_x, start_y = self._point(height, width)
                # PConv-Keras joins two arbitrary points; the span shrinks with the shape
                # so that a thin line can still fit a small remaining margin.
                span = max(2, int(max(height, width) * size_factor))
                offset_x, offset_y = self.rng.integers(-span, span + 1, size=2).tolist()
                end = (start_x + offset_x, start_y + offset_y)
                cv2.line(canvas, (start_x, start_y), end, 1, thickness)
            elif kind == 1:
                cv2.circle(canvas, self._point(height, width), thickness, 1, -1)
            else:
                axes = (
                    int(self.rng.integers(3, max(4, int(width * size_factor) + 1))),
                    int(self.rng.integers(3, max(4, int(height * size_factor) + 1))),
                )
                angle, start_angle = self.rng.uniform(0, 360, size=2)
                arc = self.rng.uniform(3, 180)
                cv2.ellipse(
                    canvas,
                    self._point(height, width),
                    axes,
                    float(angle),
                    float(start_angle),
                    float(start_angle + arc),
                    1,
                    thickness,
                )

        return self._add_shapes(height, width, hole_ratio, draw_stroke)

    def centre_block(self, height, width, hole_ratio=0.25):
        """A centred rectangle with (about) the image's aspect ratio: the context encoder's
        hole.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: the fraction of the image to cover, in (0, 1], the block being
                rounded to whole pixels; or a `(lower, upper)` range, from which the
                fraction is drawn at random (the mask's hole ratio then lies in
                `(lower, upper]`, as for the other kinds).

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        check_size(height, width)
        if isinstance(hole_ratio, tuple | list):
            block_height, block_width = self._centre_block_size(height, width, hole_ratio)
        else:
            if not 0.0 < hole_ratio <= 1.0:
                raise ValueError(f"hole_ratio must be in (0, 1], got {hole_ratio!r}")
            side_factor = math.sqrt(hole_ratio)
            block_height = max(1, round(height * side_factor))
            block_width = max(1, round(width * side_factor))
        top = (height - block_height) // 2
        left = (width - block_width) // 2
        holes = np.zeros((height, width), np.uint8)
        holes[top : top + block_height, left : left + block_width] = 1
        return to_mask(holes)

    def random_blocks(self, height, width, hole_ratio=(0.05, 0.4), block_size=0.18):
        """Axis-aligned rectangles at random places, possibly overlapping.

        This generalises the context encoder's random 40x40 blocks on 224x224 images: each
        block spans `block_size` of the image's height and width, and blocks are added until
        the hole ratio reaches a target drawn uniformly from `hole_ratio`.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: `(lower, upper)`; the mask's hole ratio lies in `(lower, upper]`.
            block_size: a block's side as a fraction of the image's side, in (0, 1].

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        if not 0.0 < block_size <= 1.0:
            raise ValueError(f"block_size must be in (0, 1], got {block_size!r}")

        def draw_block(canvas, size_factor):
            block_height = max(1, round(height * block_size * size_factor))
            block_width = max(1, round(width * block_size * size_factor))
            top = self.rng.integers(height - block_height + 1)
            left = self.rng.integers(width - block_width + 1)
            canvas[top : top + block_height, left : left + block_width] = 1

        return self._add_shapes(height, width, hole_ratio, draw_block)

    def region(self, height, width, hole_ratio=(0.05, 0.4)):
        """One large hole: a random smooth blob or a random polygon.

        The outline is star-shaped around a random centre, so scaling it about that centre
        grows the hole monotonically; a bisection on the scale brings the hole ratio to a
        target drawn uniformly from `hole_ratio`.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: `(lower, upper)`; the mask's hole ratio lies in `(lower, upper]`.

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        check_size(height, width)
        smallest, largest = _hole_count_bounds(hole_ratio, height * width)
        target = self._target_count(smallest, largest)
        outline = self._blob_outline() if self.rng.random() < 0.5 else self._polygon_outline()
        centre = self.rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height])
        holes = np.zeros((height, width), np.uint8)

        def fill(scale):
            holes[:] = 0
            points = np.round(centre + scale * outline).astype(np.int32)
            cv2.fillPoly(holes, [points], 1)
            return np.count_nonzero(holes)

        # A radius of the image's diagonal covers the whole image from any centre.
        low_scale, high_scale = (
            0.0,
            math.hypot(height, width) / np.min(np.linalg.norm(outline, axis=1)),
        )
        tolerance = max(1, (largest - smallest) // 20)
        for _ in range(_REGION_SEARCH_STEPS):
            scale = (low_scale + high_scale) / 2
            count = fill(scale)
            if abs(count - target) <= tolerance and smallest <= count <= largest:
                break
            if count < target:
                low_scale = scale
            else:
                high_scale = scale
        return to_mask(self._settle(holes, smallest, largest))

    def brush(self, height, width, hole_ratio=(0.05, 0.4)):
        """Thick brush paths, as a user paints over an object: polylines with round joints
        whose width is 4-12% of the image's short side, starting near a common centre,
        added until the hole ratio reaches a target drawn uniformly from `hole_ratio`.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: `(lower, upper)`; the mask's hole ratio lies in `(lower, upper]`.

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        short_side = min(height, width)
        # Paths gather around one object, as a user's strokes over it do.
        centre_x, centre_y = self._point(height, width)

        def draw_path(canvas, size_factor):
            thickness = max(1, round(self.rng.uniform(0.04, 0.12) * short_side * size_factor))
            spread = 0.2 * short_side
            x = int(np.clip(centre_x + self.rng.uniform(-spread, spread), 0, width - 1))
            y = int(np.clip(centre_y + self.rng.uniform(-spread, spread), 0, height - 1))
            heading = self.rng.uniform(0, 2 * np.pi)
            for _ in range(self.rng.integers(2, 7)):
                # A hand turns gradually: each segment bends by at most 70 degrees.
                heading += self.rng.uniform(-1.2, 1.2)
                length = self.rng.uniform(0.1, 0.3) * short_side * max(size_factor, 0.25)
                end_x = int(np.clip(x + length * np.cos(heading), 0, width - 1))
                end_y = int(np.clip(y + length * np.sin(heading), 0, height - 1))
                cv2.line(canvas, (x, y), (end_x, end_y), 1, thickness)
                x, y = end_x, end_y

        return self._add_shapes(height, width, hole_ratio, draw_path)

    def sample(self, height, width, hole_ratio=(0.01, 0.6), kinds=None):
        """A mask of a randomly chosen kind; this is what training uses.

        Args:
            height: mask height in pixels.
            width: mask width in pixels.
            hole_ratio: `(lower, upper)`; the mask's hole ratio lies in `(lower, upper]`.
            kinds: `{kind: weight}` over `MASK_KINDS` ("irregular", "random_blocks",
                "region", "brush" and "centre_block"); weights are normalised. Defaults to
                `DEFAULT_MASK_KIND_PROBABILITIES`.

        Returns:
            A float32 mask of shape `(height, width, 1)`.
        """
        probabilities = validate_mask_kinds(
            DEFAULT_MASK_KIND_PROBABILITIES if kinds is None else kinds
        )
        kind = self.rng.choice(list(probabilities), p=list(probabilities.values()))
        return getattr(self, kind)(height, width, hole_ratio=hole_ratio)

    def _centre_block_size(self, height, width, hole_ratio):
        """`(block_height, block_width)` of a hole count drawn from `hole_ratio`'s range,
        the shape closest to the image's aspect ratio whose count stays in the range."""
        smallest, largest = _hole_count_bounds(hole_ratio, height * width)
        target = self._target_count(smallest, largest)
        ideal_height = math.sqrt(target * height / width)
        for block_height in sorted(range(1, height + 1), key=lambda side: abs(side - ideal_height)):
            block_width = min(width, max(1, round(target / block_height)))
            if smallest <= block_height * block_width <= largest:
                return block_height, block_width
        raise ValueError(
            f"no rectangle in a {height}x{width} mask has a hole ratio in {hole_ratio}: "
            "widen the range"
        )

    def _add_shapes(self, height, width, hole_ratio, draw_shape):
        """Adds shapes until the hole count reaches a random target inside the range.

        `draw_shape(canvas, size_factor)` draws one shape with value 1 on a uint8 canvas;
        `size_factor` starts at 1 and halves whenever a shape overshoots the range.
        """
        check_size(height, width)
        smallest, largest = _hole_count_bounds(hole_ratio, height * width)
        target = self._target_count(smallest, largest)
        holes = np.zeros((height, width), np.uint8)
        count = 0
        size_factor = 1.0
        overshoots = 0
        for _ in range(_MAX_SHAPES_PER_MASK):
            if count >= target or (overshoots >= _OVERSHOOTS_BEFORE_SETTLING and count >= smallest):
                break
            previous = holes.copy()
            draw_shape(holes, size_factor)
            new_count = np.count_nonzero(holes)
            if new_count > largest:
                holes = previous
                overshoots += 1
                size_factor = max(_SMALLEST_SHAPE_FACTOR, size_factor / 2)
            else:
                count = new_count
        return to_mask(self._settle(holes, smallest, largest))

    def _settle(self, holes, smallest, largest):
        """Moves random pixels on the hole boundary until the hole count is in range.

        Shapes change the count in steps, so a tiny or narrow range may be missed by a few
        pixels; flipping pixels next to the boundary fixes that without new isolated specks.
        """
        kernel = np.ones((3, 3), np.uint8)
        count = np.count_nonzero(holes)
        while count < smallest or count > largest:
            grow = count < smallest
            if grow:
                candidates = (cv2.dilate(holes, kernel) > 0) & (holes == 0)
            else:
                candidates = (holes > 0) & (cv2.erode(holes, kernel) == 0)
            positions = np.flatnonzero(candidates)
            if positions.size == 0:
                # No hole yet to grow from, or a hole covering the whole image.
                positions = np.flatnonzero(holes == (0 if grow else 1))
            needed = smallest - count if grow else count - largest
            chosen = self.rng.choice(positions, size=min(needed, positions.size), replace=False)
            holes.flat[chosen] = 1 if grow else 0
            count = np.count_nonzero(holes)
        return holes

    def _target_count(self, smallest, largest):
        return int(self.rng.integers(smallest, largest + 1))

    def _shape_size(self, scale, size_factor):
        """A random thickness or radius in [3, scale] pixels, shrunk by `size_factor`."""
        size = self.rng.integers(3, scale + 1)
        return max(1, int(size * size_factor))

    def _point(self, height, width):
        """A random pixel position as OpenCV wants it: an `(x, y)` tuple of Python ints."""
        return int(self.rng.integers(width)), int(self.rng.integers(height))

    def _blob_outline(self):
        """A closed smooth curve of mean radius 1: a circle perturbed by low frequencies."""
        angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        radii = np.ones_like(angles)
        for frequency in range(2, 6):
            amplitude = self.rng.uniform(0, 0.5 / frequency)
            radii += amplitude * np.cos(frequency * angles + self.rng.uniform(0, 2 * np.pi))
        aspect = self.rng.uniform(0.6, 1.0)
        return np.stack([radii * np.cos(angles), aspect * radii * np.sin(angles)], axis=1)

    def _polygon_outline(self):
        """A star-shaped polygon of 4 to 12 vertices at random angles and radii."""
        vertex_count = self.rng.integers(4, 13)
        angles = np.sort(self.rng.uniform(0, 2 * np.pi, vertex_count))
        radii = self.rng.uniform(0.5, 1.0, vertex_count)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
