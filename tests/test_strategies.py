"""Crop, tile, resize and auto with stand-in networks: windows, coverage, seams, choices."""

import numpy as np
import pytest

from holefill.inference import strategies

TILE = 64


def smooth_photo(height, width):
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([rows / height, columns / width, (rows + columns) / (height + width)], -1)


def constant_network(value=0.5):
    calls = []

    def fill_tile(image, known):
        assert image.shape == (TILE, TILE, 3) and known.shape == (TILE, TILE, 1)
        calls.append((image, known))
        return np.full((TILE, TILE, 3), value, np.float32)

    return fill_tile, calls


def plane_network(seed=0):
    """A different smooth fill on every call, as a network's fill depends on its tile."""
    rng = np.random.default_rng(seed)

    def fill_tile(image, known):
        offset, slope_rows, slope_columns = rng.uniform(-1, 1, 3)
        rows, columns = np.mgrid[0:TILE, 0:TILE].astype(np.float32) / TILE
        plane = offset + 0.2 * (slope_rows * rows + slope_columns * columns)
        return np.repeat(plane[..., None], 3, axis=2).astype(np.float32)

    return fill_tile


@pytest.mark.parametrize("strategy", ["crop", "tile", "resize"])
def test_every_hole_pixel_is_filled(strategy):
    holes = np.zeros((150, 230), bool)
    holes[10:20, 15:30] = True
    holes[100:140, 180:220] = True
    fill_tile, calls = constant_network(0.5)
    values, used = strategies.inpaint(smooth_photo(150, 230), holes, fill_tile, TILE, 3, strategy)
    assert used == strategy and calls
    assert values.shape == (np.count_nonzero(holes), 3)
    np.testing.assert_allclose(values, 0.5, atol=1e-5)


def scattered(values, holes):
    """The values of the hole pixels at their places in the photo, 0 elsewhere."""
    photo = np.zeros((*holes.shape, values.shape[1]), np.float32)
    photo[holes] = values
    return photo


def test_crop_windows_group_nearby_holes_and_own_each_hole_once():
    holes = np.zeros((600, 800), bool)
    holes[100:110, 100:110] = True
    holes[100:110, 130:140] = True  # close to the first: one group
    holes[500:520, 700:720] = True  # far away: its own window
    windows = strategies.crop_windows(holes, TILE)
    assert len(windows) == 2
    owned = np.zeros(holes.shape, int)
    for (rows, columns), own_holes in windows:
        assert rows.stop - rows.start >= TILE and columns.stop - columns.start >= TILE
        owned[rows, columns] += own_holes
    np.testing.assert_array_equal(owned, holes.astype(int))


def test_large_windows_are_scaled_to_a_tile_and_holes_stay_holes():
    holes = np.zeros((300, 300), bool)
    holes[100:200, 100:200] = True
    fill_tile, calls = constant_network()
    strategies.inpaint(smooth_photo(300, 300), holes, fill_tile, TILE, 3, "crop")
    ((_, known),) = calls
    # The 132 px window (hole plus a 16 px margin) shrinks to 64 px: about 48 px of hole.
    assert 45 <= np.count_nonzero(known[:, TILE // 2, 0] == 0) <= 51


def test_small_photos_are_padded_to_a_tile():
    holes = np.zeros((20, 30), bool)
    holes[5:10, 5:10] = True
    fill_tile, calls = constant_network()
    _, used = strategies.inpaint(smooth_photo(20, 30), holes, fill_tile, TILE, 3)
    assert used == "resize" and len(calls) == 1
    image, known = calls[0]
    np.testing.assert_allclose(image[:20, :30], smooth_photo(20, 30))
    assert known[:20, :30, 0][holes].max() == 0


def column_gradients(values, holes, tile_edges):
    """The mean |horizontal gradient| of the fill per column step, across the tile edges and
    across every other column."""
    gradient = np.abs(np.diff(values[..., 0], axis=1))
    inside = holes[:, 1:] & holes[:, :-1]
    steps = np.flatnonzero(inside.any(axis=0))
    per_column = {step: gradient[inside[:, step], step].mean() for step in steps}
    edge_steps = {edge - 1 for edge in tile_edges}
    at_edges = [value for step, value in per_column.items() if step in edge_steps]
    elsewhere = [value for step, value in per_column.items() if step not in edge_steps]
    return np.array(at_edges), np.array(elsewhere)


def test_tiles_blend_without_seams():
    holes = np.zeros((40, 300), bool)
    holes[10:30, 5:295] = True  # a long hole across many tiles
    photo = smooth_photo(40, 300)
    values, _ = strategies.inpaint(photo, holes, plane_network(), TILE, 3, "tile")
    values = scattered(values, holes)
    starts = strategies.tile_starts(300, TILE, round(strategies.TILE_OVERLAP * TILE))
    edges = sorted(set(starts[1:]) | {start + TILE for start in starts[:-1]})
    at_edges, elsewhere = column_gradients(values, holes, edges)
    assert at_edges.max() <= elsewhere.max()

    # Averaging overlapping tiles without feathering (as PConv-Keras did) leaves steps.
    unfeathered = plane_network()
    averaged = np.zeros((40, 300, 3), np.float32)
    counts = np.zeros((40, 300, 1), np.float32)
    for start in starts:
        averaged[:, start : start + TILE] += unfeathered(None, None)[:40]
        counts[:, start : start + TILE] += 1
    step_at_edges, step_elsewhere = column_gradients(averaged / counts, holes, edges)
    assert step_at_edges.max() > 2 * step_elsewhere.max()


def test_a_tile_plan_works_on_in_overlapping_pieces_that_cover_every_hole_once():
    holes = np.zeros((900, 1300), bool)
    holes[100::150, 40:1250] = True  # strokes spread over the photo
    holes[50:850, 600:603] = True
    plan = strategies.plan(holes, TILE, "tile")
    side, margin = strategies.PIECE_TILES * TILE, min(strategies.CROP_MARGIN, TILE // 4)
    assert len(plan.regions) > 4
    weight_sum = np.zeros(holes.shape, np.float32)
    for region in plan.regions:
        rows, columns = region.window
        assert rows.stop - rows.start <= side + 2 * margin
        assert columns.stop - columns.start <= side + 2 * margin
        assert not (region.own_holes & ~holes[region.window]).any()
        placed = np.zeros(region.own_holes.shape, np.float32)
        placed[region.own_holes] = region.weights()
        weight_sum[region.window] += placed
    # Each hole pixel is taken by the pieces over it, blended by weights that sum above 0.
    assert (weight_sum[holes] > 0).all() and (weight_sum[~holes] == 0).all()
    assert plan.largest_region_pixels <= (side + 2 * margin) ** 2 < holes.size


def test_crop_regions_are_the_crop_windows():
    holes = np.zeros((600, 800), bool)
    holes[100:110, 100:110] = True
    holes[500:520, 700:720] = True
    plan = strategies.plan(holes, TILE, "crop")
    assert [region.window for region in plan.regions] == [window for window, _ in plan.windows]
    assert all((region.weights() == 1).all() for region in plan.regions)


def test_auto_picks_by_photo_and_hole_size():
    def choose(holes, tile_size):
        return strategies.choose_strategy(
            holes, tile_size, strategies.crop_windows(holes, tile_size)
        )

    small = np.zeros((50, 60), bool)
    small[10:20, 10:20] = True
    assert choose(small, TILE) == "resize"

    large = np.zeros((600, 900), bool)
    large[300:310, 400:420] = True
    assert choose(large, TILE) == "crop"

    wire = np.zeros((600, 900), bool)
    wire[300:303, 20:880] = True  # long and thin: every pixel near known context
    assert choose(wire, TILE) == "tile"

    blob = np.zeros((600, 900), bool)
    blob[50:550, 100:800] = True
    assert choose(blob, TILE) == "resize"


def test_unknown_strategy():
    with pytest.raises(ValueError, match="strategy must be one of"):
        strategies.inpaint(smooth_photo(8, 8), np.ones((8, 8), bool), None, TILE, 3, "magic")
