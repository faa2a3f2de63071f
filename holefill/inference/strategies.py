"""Inpainting a photo of any size with a network of one tile size: crop, tile or resize.

- `crop`: each group of nearby holes is inpainted in a window around it with a margin
  (IOPaint's default 128 px, at most a quarter of a tile), grown to a whole tile where
  the photo allows: context that costs nothing. A window larger than a tile is scaled
  down to one, and its fill scaled back up.
- `tile`: the holes are covered with overlapping tiles at full resolution, blended with
  feathered weights that fall linearly to zero across the overlap. PConv-Keras overlapped
  by 15 px and averaged pairwise, which leaves a visible step where a tile ends.
- `resize`: the whole photo scaled down to a tile, inpainted, and the fill scaled up.
- `auto`: `resize` for a photo no larger than a tile (nothing to scale, all the context);
  `crop` when every window fits a tile; `tile` for thin holes (strokes, scratches, wires)
  on a large photo, whose every pixel has context within a tile; otherwise `crop`, or
  `resize` when the windows would cover most of the photo anyway.

Each strategy calls `fill_tile(image, known)` on float32 tiles (`(T, T, 3)` and `(T, T, 1)`,
1 = known) and receives `(T, T, C)` values that blend linearly: the fill itself, and for
Monte-Carlo dropout its moments. It returns those values for the hole pixels alone
(`HoleIndex` orders them), so that a large photo costs what its holes do.

After the network, the fill's other steps (the synthesis, diffusion, the error map) work
on a plan's `regions` one at a time: the crop windows of groups of holes, or, for the
thin holes of a tile plan, which may spread over the whole photo, overlapping pieces of
at most `PIECE_TILES` tiles a side, their results blended across the overlap as tiles
are. Memory is then bounded by the largest region, not by the photo.
"""

import dataclasses
import math

import cv2
import numpy as np

STRATEGIES = ("auto", "crop", "tile", "resize")
# IOPaint's margin, but at most a quarter of a tile, so that a hole of half a tile still
# fits a tile with its margin.
CROP_MARGIN = 128
# Tiles overlap by this fraction of their side; the blend ramps across the overlap.
TILE_OVERLAP = 0.25
# Holes whose every pixel lies within this fraction of a tile of a known pixel are thin.
THIN_HOLE = 1 / 8
# `auto` scales the whole photo when the crop windows would cover more than this of it.
RESIZE_COVERAGE = 0.5
# A tile plan's pieces span at most this many tiles a side, read with CROP_MARGIN of
# context around them, and overlap by that margin: a 50 MP photo's strokes are then worked
# on in pieces of about 5 MP (`bench/cost.py` measures what that saves and costs).
PIECE_TILES = 4


@dataclasses.dataclass(frozen=True)
class Region:
    """A part of the photo that the steps after the network work on by itself.

    Attributes:
        window: `(rows, columns)` slices of the photo: what the region reads.
        own_holes: bool, the window's shape: the holes that take the region's result.
        row_weights, column_weights: float32 along the window's rows and columns, or None
            (weight 1): where regions overlap, their results blend with these weights.
    """

    window: tuple
    own_holes: np.ndarray
    row_weights: np.ndarray | None = None
    column_weights: np.ndarray | None = None

    @property
    def pixels(self):
        return self.own_holes.size

    def weights(self):
        """The blend weight at each own hole, in their row-major order: float32 `(n,)`."""
        if self.row_weights is None:
            return np.ones(np.count_nonzero(self.own_holes), np.float32)
        rows, columns = np.nonzero(self.own_holes)
        return self.row_weights[rows] * self.column_weights[columns]


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a strategy will run on a photo's holes, known before any pixel is decoded.

    Attributes:
        strategy: "crop", "tile" or "resize" (what "auto" chose).
        windows: `[(window, own_holes)]`: each is one network pass; `own_holes` marks the
            holes (inside the window) that take the window's fill. Tiles' windows blend
            and own all of their holes.
        regions: the `Region`s that the steps after the network work on, one at a time.
    """

    strategy: str
    windows: list
    regions: list

    @property
    def passes(self):
        return len(self.windows)

    @property
    def region_pixels(self):
        """The pixels of every region, overlaps counted in each."""
        return sum(region.pixels for region in self.regions)

    @property
    def largest_region_pixels(self):
        return max((region.pixels for region in self.regions), default=0)

    @property
    def largest_region_hole_pixels(self):
        """The most hole pixels that one region takes its result for."""
        return max((int(np.count_nonzero(region.own_holes)) for region in self.regions), default=0)


class HoleIndex:
    """A photo's hole pixels in row-major order, and where a window's fall among them."""

    def __init__(self, holes):
        self.width = holes.shape[1]
        self.flat = np.flatnonzero(holes)

    def __len__(self):
        return self.flat.size

    def of(self, window, marked):
        """The positions among the photo's holes of the pixels that `marked` (bool, the
        window's shape, holes only) marks in `window`, in their row-major order."""
        rows, columns = np.nonzero(marked)
        flat = (rows + window[0].start) * self.width + columns + window[1].start
        return np.searchsorted(self.flat, flat)


def plan(holes, tile_size, strategy="auto"):
    """The `Plan` of `strategy` (one of `STRATEGIES`) for `holes` (bool, True = hole)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    windows = crop_windows(holes, tile_size) if strategy in ("auto", "crop") else None
    if strategy == "auto":
        strategy = choose_strategy(holes, tile_size, windows)
    if strategy == "tile":
        windows = [(window, holes[window]) for window in _tile_windows(holes, tile_size)]
        return Plan(strategy, windows, _pieces(holes, tile_size))
    groups = windows if windows is not None else crop_windows(holes, tile_size)
    regions = [Region(window, own_holes) for window, own_holes in groups]
    if strategy == "resize":
        windows = [((slice(0, holes.shape[0]), slice(0, holes.shape[1])), holes)]
    return Plan(strategy, windows, regions)


def inpaint(colour, holes, fill_tile, tile_size, channels, strategy="auto", index=None):
    """Runs a strategy over a photo; returns `(values, strategy)`.

    Args:
        colour: `(height, width, 3)` RGB in its own type (uint8, uint16 or float in [0, 1]).
        holes: bool `(height, width)`, True where the hole is.
        fill_tile: `(image, known) -> (tile_size, tile_size, channels)` float32.
        tile_size: the network's input side.
        channels: how many values `fill_tile` returns per pixel.
        strategy: one of `STRATEGIES`, or the `Plan` that `plan` made for these holes.
        index: the `HoleIndex` of `holes`, where the caller has one already.

    Returns:
        float32 `(holes, channels)`, the values at the hole pixels in `HoleIndex` order,
        and the strategy run (what "auto" chose).
    """
    chosen = strategy if isinstance(strategy, Plan) else plan(holes, tile_size, strategy)
    index = HoleIndex(holes) if index is None else index
    values = np.zeros((len(index), channels), np.float32)
    if chosen.strategy == "tile":
        _tile(colour, holes, fill_tile, tile_size, chosen.windows, index, values)
    else:
        for window, own_holes in chosen.windows:
            filled = _fill_window(colour, holes, window, fill_tile, tile_size)
            values[index.of(window, own_holes)] = filled[own_holes]
    return values, chosen.strategy


def choose_strategy(holes, tile_size, windows):
    """What `auto` runs for these holes, given their `crop_windows`; see the module's
    docstring."""
    height, width = holes.shape
    if max(height, width) <= tile_size:
        return "resize"
    sides = [
        (rows.stop - rows.start, columns.stop - columns.start) for (rows, columns), _ in windows
    ]
    if all(max(side) <= tile_size for side in sides):
        return "crop"
    if _hole_thickness(holes) <= THIN_HOLE * tile_size:
        return "tile"
    covered = sum(rows * columns for rows, columns in sides)
    return "resize" if covered > RESIZE_COVERAGE * height * width else "crop"


def crop_windows(holes, tile_size):
    """Windows around groups of holes: `[(window, own_holes)]`.

    Holes whose boxes plus margin overlap form one group and share a window, grown to a
    whole tile where the photo allows. `own_holes` marks the group's holes inside its
    window: other groups' holes in a window count as holes but are filled by their own.
    """
    height, width = holes.shape
    margin = min(CROP_MARGIN, tile_size // 4)
    hole_rows = np.flatnonzero(holes.any(axis=1))
    if not hole_rows.size:
        return []
    # Labelling only the holes' bounding box is much faster on a large photo.
    hole_columns = np.flatnonzero(holes.any(axis=0))
    top, left = hole_rows[0], hole_columns[0]
    box = holes[top : hole_rows[-1] + 1, left : hole_columns[-1] + 1]
    _, box_labels, stats, _ = cv2.connectedComponentsWithStats(box.view(np.uint8), 8)
    labels = np.zeros(holes.shape, box_labels.dtype)
    labels[top : hole_rows[-1] + 1, left : hole_columns[-1] + 1] = box_labels
    boxes = stats[1:, :4].astype(np.int64)  # x, y, width, height; label 0 is the known area
    boxes[:, :2] += (left, top)
    starts = boxes[:, :2] - margin  # x, y
    stops = boxes[:, :2] + boxes[:, 2:4] + margin
    overlapping = np.all(
        (starts[:, None] < stops[None, :]) & (starts[None, :] < stops[:, None]), axis=2
    )
    group_of = _connected_groups(overlapping)
    # Labels start at 1: `group_of_label[label]` is the label's group, -1 for the known area.
    group_of_label = np.concatenate([[-1], group_of])
    windows = []
    for group in range(group_of.max() + 1):
        members = group_of == group
        left, top = np.maximum(starts[members].min(axis=0), 0)
        right, bottom = np.minimum(stops[members].max(axis=0), (width, height))
        rows = _grow_to(int(top), int(bottom), tile_size, height)
        columns = _grow_to(int(left), int(right), tile_size, width)
        windows.append(((rows, columns), group_of_label[labels[rows, columns]] == group))
    return windows


def _tile_windows(holes, tile_size):
    """The windows of a grid of overlapping tiles that hold a hole."""
    height, width = holes.shape
    row_starts, column_starts = _grid_starts(holes.shape, tile_size)
    return [
        window
        for top in row_starts
        for left in column_starts
        if holes[
            window := (
                slice(top, min(top + tile_size, height)),
                slice(left, min(left + tile_size, width)),
            )
        ].any()
    ]


def _pieces(holes, tile_size):
    """A tile plan's regions: a grid of overlapping pieces over the box spanning the
    holes, each read with a margin of context; pieces without a hole are left out."""
    margin = min(CROP_MARGIN, tile_size // 4)
    height, width = holes.shape
    starts, sides, ramps = [], [], []
    for axis in (1, 0):
        span = np.flatnonzero(holes.any(axis=axis))
        length = int(span[-1] - span[0]) + 1
        # The fewest pieces of at most PIECE_TILES tiles, then shrunk to share the span
        # evenly: the margins and overlaps, worked on twice, stay as small as they can.
        count = len(tile_starts(length, PIECE_TILES * tile_size, margin))
        side = min(length, math.ceil((length + (count - 1) * margin) / count))
        axis_starts = [int(span[0]) + start for start in tile_starts(length, side, margin)]
        starts.append(axis_starts)
        sides.append(side)
        ramps.append(_ramp(side, _overlap(axis_starts, side)))
    regions = []
    for top in starts[0]:
        for left in starts[1]:
            core = (slice(top, top + sides[0]), slice(left, left + sides[1]))
            if not holes[core].any():
                continue
            window = (
                slice(max(top - margin, 0), min(core[0].stop + margin, height)),
                slice(max(left - margin, 0), min(core[1].stop + margin, width)),
            )
            inner = tuple(
                slice(part.start - whole.start, part.stop - whole.start)
                for part, whole in zip(core, window, strict=True)
            )
            own_holes = np.zeros(holes[window].shape, bool)
            own_holes[inner] = holes[core]
            weights = []
            for part, whole, ramp in zip(inner, window, ramps, strict=True):
                along = np.zeros(whole.stop - whole.start, np.float32)
                along[part] = ramp[: part.stop - part.start]
                weights.append(along)
            regions.append(Region(window, own_holes, *weights))
    return regions


def _grid_starts(shape, tile_size):
    """The rows and the columns where the grid's tiles start."""
    minimum_overlap = max(1, round(TILE_OVERLAP * tile_size))
    return [tile_starts(length, tile_size, minimum_overlap) for length in shape]


def _tile(colour, holes, fill_tile, tile_size, windows, index, values):
    # The ramps span the whole overlap between neighbours: the blend then changes at the
    # same rate across it, so no column of it changes faster than the others.
    row_ramp, column_ramp = (
        _ramp(tile_size, _overlap(starts, tile_size))
        for starts in _grid_starts(holes.shape, tile_size)
    )
    weight_sum = np.zeros(len(index), np.float32)
    for window, own_holes in windows:
        filled = _fill_window(colour, holes, window, fill_tile, tile_size)
        rows, columns = np.nonzero(own_holes)
        weight = row_ramp[rows] * column_ramp[columns]
        at = index.of(window, own_holes)
        values[at] += filled[rows, columns] * weight[:, None]
        weight_sum[at] += weight
    values /= weight_sum[:, None]


def tile_starts(length, tile_size, overlap):
    """Evenly spread starts of tiles covering `length` with at least `overlap` between them."""
    if length <= tile_size:
        return [0]
    count = math.ceil((length - overlap) / (tile_size - overlap))
    return np.linspace(0, length - tile_size, count).round().astype(int).tolist()


def _overlap(starts, tile_size):
    """The smallest overlap between neighbouring tiles (a whole tile if there is one)."""
    return tile_size - min(np.diff(starts), default=0)


def _ramp(length, overlap):
    """Weights rising linearly from ~0 at each end to 1 at `overlap` pixels in."""
    positions = np.arange(length, dtype=np.float32) + 0.5
    return np.minimum(1.0, np.minimum(positions, length - positions) / overlap)


def _fill_window(colour, holes, window, fill_tile, tile_size):
    """Runs `fill_tile` on a window of any size; returns `(rows, columns, C)` float32.

    A window larger than a tile is scaled down to fit (a pixel counts as known only if
    everything it covers is) and its values scaled back up; a smaller one is padded by
    reflection to a whole tile.
    """
    image = unit_float(colour[window])
    known = (~holes[window]).astype(np.float32)
    rows, columns = known.shape
    scale = min(1.0, tile_size / max(rows, columns))
    if scale < 1.0:
        size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        known = (cv2.resize(known, size, interpolation=cv2.INTER_AREA) > 0.999).astype(np.float32)
    scaled_rows, scaled_columns = known.shape
    padding = (0, tile_size - scaled_rows, 0, tile_size - scaled_columns)
    image = cv2.copyMakeBorder(image, *padding, cv2.BORDER_REFLECT_101)
    known = cv2.copyMakeBorder(known, *padding, cv2.BORDER_REFLECT_101)
    filled = fill_tile(image, known[..., None])[:scaled_rows, :scaled_columns]
    if scale < 1.0:
        filled = _resize_channels(filled, (columns, rows))
    return filled


def _resize_channels(values, size):
    """`cv2.resize` with cubic interpolation for any number of channels (OpenCV takes 4)."""
    parts = [
        cv2.resize(values[..., start : start + 4], size, interpolation=cv2.INTER_CUBIC)
        for start in range(0, values.shape[2], 4)
    ]
    return np.concatenate([part.reshape(*part.shape[:2], -1) for part in parts], axis=2)


def unit_float(pixels):
    """Pixels of any type as float32 in [0, 1]."""
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32)
    return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)


def _grow_to(start, stop, tile_size, length):
    """Grows `[start, stop)` to `tile_size` around its centre, within `[0, length)`."""
    missing = tile_size - (stop - start)
    if missing > 0:
        start = min(max(0, start - missing // 2), max(0, length - tile_size))
        stop = min(length, start + tile_size)
    return slice(start, stop)


def _connected_groups(adjacent):
    """Labels of the connected components of a symmetric boolean adjacency matrix."""
    groups = np.full(len(adjacent), -1)
    count = 0
    for seed in range(len(adjacent)):
        if groups[seed] >= 0:
            continue
        frontier = np.zeros(len(adjacent), bool)
        frontier[seed] = True
        while frontier.any():
            groups[frontier] = count
            frontier = adjacent[frontier].any(axis=0) & (groups < 0)
        count += 1
    return groups


def _hole_thickness(holes):
    """The largest distance from a hole pixel to the nearest known pixel, in pixels."""
    distances = cv2.distanceTransform(holes.view(np.uint8), cv2.DIST_L2, 3)
    return float(distances.max())
