"""Biharmonic inpainting: the smoothest fill of a hole, the solution of Δ²u = 0 inside it
with the known pixels as its boundary (Damelin and Hoang 2018, as scikit-image's
`inpaint_biharmonic` solves it).

The operator is the 5-point Laplacian applied twice (a 13-point stencil reaching 2 pixels),
reflecting at the photo's border. Holes more than 2 pixels apart do not reach each other's
equations, so each group of nearer ones is one sparse system in its own bounding box,
factorised once and solved for every channel. Serving needs this alone of scikit-image,
whose dependencies cost the Lambda image 57 MB.
"""

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import linalg

# How far the stencil reaches.
_REACH = 2


def inpaint_biharmonic(image, holes):
    """`image` (float `(height, width[, channels])`) with its `holes` (bool) filled by
    biharmonic interpolation of the other pixels, as float64."""
    if image.shape[:2] != holes.shape:
        raise ValueError(f"image {image.shape} and holes {holes.shape} differ in size.")
    filled = np.array(image, dtype=np.float64)
    if filled.ndim == 2:
        return inpaint_biharmonic(filled[..., None], holes)[..., 0]
    if not holes.any():
        return filled
    if holes.all():
        raise ValueError("every pixel is a hole: nothing to interpolate from.")
    reach = np.ones((2 * _REACH + 1, 2 * _REACH + 1), np.uint8)
    grown = cv2.dilate(holes.view(np.uint8), reach)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(grown, connectivity=8)
    for label in range(1, count):
        left, top, box_width, box_height, _ = stats[label]
        # The dilated group's box: the holes' box plus the stencil's reach, clipped at the
        # photo's border.
        window = (slice(top, top + box_height), slice(left, left + box_width))
        _solve_window(filled[window], holes[window] & (labels[window] == label))
    # The solution overshoots beyond sharp edges: it is kept within the known pixels'
    # range, as scikit-image keeps it.
    known = filled[~holes]
    return np.clip(filled, known.min(axis=0), known.max(axis=0), out=filled)


def _solve_window(values, unknown):
    """Fills `values` (a view, `(rows, columns, channels)`) at `unknown` in place."""
    rows, columns = unknown.shape
    laplacian = _laplacian(rows, columns)
    flat_unknown = unknown.ravel()
    equations = (laplacian[flat_unknown] @ laplacian).tocsc()
    right_side = -(equations[:, ~flat_unknown] @ values[~unknown])
    values[unknown] = linalg.splu(equations[:, flat_unknown]).solve(np.asarray(right_side))


def _laplacian(rows, columns):
    """The 5-point Laplacian over a `rows` x `columns` window, row-major, each pixel's
    neighbours being those inside the window. At the photo's border that is a reflecting
    border; the window's other edges lie the stencil's reach from every hole, so the rows
    that a hole's equation reads are whole."""
    index = np.arange(rows * columns).reshape(rows, columns)
    first = np.concatenate([index[:, :-1].ravel(), index[:-1, :].ravel()])
    second = np.concatenate([index[:, 1:].ravel(), index[1:, :].ravel()])
    adjacency = sparse.coo_matrix(
        (
            np.ones(2 * first.size),
            (np.concatenate([first, second]), np.concatenate([second, first])),
        ),
        shape=(rows * columns, rows * columns),
    ).tocsr()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return (adjacency - sparse.diags(degree)).tocsr()
