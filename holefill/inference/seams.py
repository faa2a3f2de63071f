"""The network's fill blended with a diffusion fill at the hole's edge.

The PConv U-Net is least accurate in the first pixels inside a hole and most accurate far
from its edge; diffusion is the other way round. Measured on 40 validation samples at
256 px with (10%,30%] holes, mean absolute error of the default model vs Navier-Stokes
(`cv2.INPAINT_NS`): 5.53% vs 3.58% within 1 px of the edge, 6.60% vs 5.10% at 1-2 px,
7.01% vs 6.95% at 3-5 px, 8.73% vs 9.01% at 8-12 px. So the edge comes from diffusion,
the interior from the network, with a ramp between them; and since the two err
independently, a share of diffusion in the interior lowers the error there too.

Biharmonic diffusion (`holefill.inference.biharmonic`) is the better partner: on
photos outside the validation set (`bench/seam_partners.py`) the network blended with it
beat the Navier-Stokes blend on SSIM and PSNR in every hole-size bucket, and biharmonic
diffusion alone on SSIM, which the Navier-Stokes blend did not. It costs more, so large
holes are diffused at a reduced size inside (see `_diffuse`).
"""

import dataclasses
import math
from collections.abc import Callable

import cv2
import numpy as np

from holefill.inference.biharmonic import inpaint_biharmonic
from holefill.inference.strategies import unit_float


@dataclasses.dataclass(frozen=True)
class Diffusion:
    """A diffusion method and the hole sizes up to which it runs at full resolution.

    Attributes:
        fill: `fill(colour, hole, radius)`, the diffused `(height, width, 3)` colour, in
            `colour`'s type if 8-bit and float32 in [0, 1] otherwise.
        full_resolution_hole_pixels: holes up to this many pixels are diffused at full
            resolution throughout; larger ones first at a reduced size.
        coarse_hole_pixels: the reduced size brings a large hole down to this many pixels.
        largest_band_pixels: a large hole's full-resolution band of more pixels than this
            is filled by Navier-Stokes diffusion instead (None: no limit).
    """

    fill: Callable[[np.ndarray, np.ndarray, int], np.ndarray]
    full_resolution_hole_pixels: int
    coarse_hole_pixels: int
    largest_band_pixels: int | None = None


def _navier_stokes(colour, hole, radius):
    if colour.dtype == np.uint8:
        # OpenCV fills 8-bit colour in one call; other types one channel at a time.
        return cv2.inpaint(colour, hole, radius, cv2.INPAINT_NS)
    channels = unit_float(colour)
    return np.stack(
        [cv2.inpaint(channels[..., c], hole, radius, cv2.INPAINT_NS) for c in range(3)], axis=-1
    )


def _biharmonic(colour, hole, radius):
    filled = inpaint_biharmonic(unit_float(colour), hole.astype(bool))
    return np.clip(filled, 0.0, 1.0).astype(np.float32)


# Sizes by cost (docs/MEASUREMENTS.md, "Seam diffusion"): a sparse direct solve of the
# biharmonic equation grows faster than the hole, so a large hole is solved coarsely inside
# and at full size along its edge; strokes cost less for their size, all of them being near
# an edge. The band of painted strokes on a large photo is Navier-Stokes's beyond a 512 px
# tile's worth.
DIFFUSIONS = {
    "biharmonic": Diffusion(_biharmonic, 128 * 128, 64 * 64, largest_band_pixels=2 * 256 * 256),
    "navier-stokes": Diffusion(_navier_stokes, 512 * 512, 256 * 256),
}


@dataclasses.dataclass(frozen=True)
class SeamBlend:
    """Which diffusion fill takes over from the network's, and where.

    Attributes:
        partner: the diffusion method, a key of `DIFFUSIONS`.
        edge_width: pixels inside the hole (distance to the nearest known pixel) filled by
            diffusion alone.
        ramp_end: distance from which the network has its full share.
        interior_diffusion_share: the weight of the diffusion fill from `ramp_end` on.
        radius: pixels around a hole pixel that diffusion reads: Navier-Stokes's
            neighbourhood radius (`cv2.inpaint`); the biharmonic stencil reaches 2, within it.
    """

    partner: str = "biharmonic"
    edge_width: float = 2.0
    ramp_end: float = 5.0
    interior_diffusion_share: float = 0.4
    radius: int = 3

    def __post_init__(self):
        if self.partner not in DIFFUSIONS:
            raise ValueError(
                f"partner must be one of {', '.join(DIFFUSIONS)}, got {self.partner!r}."
            )
        if not 0 <= self.edge_width < self.ramp_end:
            raise ValueError(
                f"need 0 <= edge_width < ramp_end, got {self.edge_width} and {self.ramp_end}."
            )
        if not 0 <= self.interior_diffusion_share <= 1:
            raise ValueError(
                f"interior_diffusion_share must lie in [0, 1], got {self.interior_diffusion_share}."
            )
        if self.radius < 1:
            raise ValueError(f"radius must be at least 1, got {self.radius}.")

    def diffusion_weight(self, distance):
        """The diffusion fill's weight at `distance` pixels from the nearest known pixel."""
        ramp = np.clip((self.ramp_end - distance) / (self.ramp_end - self.edge_width), 0, 1)
        share = self.interior_diffusion_share
        return (share + (1.0 - share) * ramp).astype(np.float32)


# The edge and ramp were chosen with Navier-Stokes on 100 validation samples; the
# biharmonic interior share of 0.4 on training photos (`bench/seam_partners.py`).
DEFAULT_SEAMS = SeamBlend()


@dataclasses.dataclass(frozen=True)
class HoleDiffusion:
    """A diffusion fill of a photo's holes, over the window that holds them.

    Attributes:
        window: `(rows, columns)` slices: the holes' bounding box and the margin that
            diffusion reads.
        holes: bool, the holes inside the window.
        distance: float32, each window pixel's distance to the nearest known pixel.
        values: float32 `(n, 3)` in [0, 1], the diffusion fill at the window's hole pixels
            (in row-major order).
    """

    window: tuple[slice, slice]
    holes: np.ndarray
    distance: np.ndarray
    values: np.ndarray


def diffuse_holes(colour, holes, blend=DEFAULT_SEAMS):
    """The `blend` partner's diffusion fill of `holes` in `colour` (uint8, uint16 or float
    in [0, 1], only its known pixels read); None when there are no holes."""
    if colour.shape[:2] != holes.shape:
        raise ValueError(f"colour {colour.shape} and holes {holes.shape} differ in size.")
    if not holes.any():
        return None
    rows, columns = np.nonzero(np.any(holes, axis=1))[0], np.nonzero(np.any(holes, axis=0))[0]
    scale = _coarse_scale(DIFFUSIONS[blend.partner], int(np.count_nonzero(holes)))
    # Diffusion reads `radius` pixels around the hole, at the coarse scale too: the
    # bounding box plus that margin is all it needs, however large the photo.
    margin = math.ceil((blend.radius + 1) / scale)
    window = (
        slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
        slice(max(columns[0] - margin, 0), columns[-1] + margin + 1),
    )
    hole = holes[window].astype(np.uint8)
    distance = cv2.distanceTransform(hole, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    inside = hole.astype(bool)
    # Only the hole's pixels are kept: whole-window float arrays would cost more than the
    # diffusion itself on a large photo.
    values = unit_float(_diffuse(colour[window], hole, distance, blend, scale)[inside])
    return HoleDiffusion(window, inside, distance, values)


def blend_seams(colour, holes, fill, blend=DEFAULT_SEAMS, diffusion=None):
    """`fill` with its hole pixels blended with a diffusion fill near the hole's edge.

    Args:
        colour: `(height, width, 3)` photo (uint8, uint16 or float in [0, 1]); only its
            known pixels are read.
        holes: bool `(height, width)`, True on the hole.
        fill: float32 `(height, width, 3)`, the network's fill, meaningful on the holes.
        blend: a `SeamBlend`.
        diffusion: `diffuse_holes(colour, holes, blend)` when it was computed already.

    Returns:
        float32 `(height, width, 3)`: the blended fill on the holes, `fill` elsewhere.
    """
    if colour.shape[:2] != holes.shape or fill.shape[:2] != holes.shape:
        raise ValueError(
            f"colour {colour.shape}, holes {holes.shape} and fill {fill.shape} must share "
            "their height and width."
        )
    if not holes.any():
        return fill
    if diffusion is None:
        diffusion = diffuse_holes(colour, holes, blend)
    weight = blend.diffusion_weight(diffusion.distance[diffusion.holes])[:, None]
    blended = fill.copy()
    region = blended[diffusion.window]
    region[diffusion.holes] = weight * diffusion.values + (1.0 - weight) * region[diffusion.holes]
    return blended


def _coarse_scale(diffusion, hole_pixels):
    """The scale at which `diffusion` fills a hole of `hole_pixels` inside (1: full size)."""
    if hole_pixels <= diffusion.full_resolution_hole_pixels:
        return 1.0
    return math.sqrt(diffusion.coarse_hole_pixels / hole_pixels)


def _diffuse(colour, hole, distance, blend, scale):
    """The partner's fill of `colour`'s `hole`, in its own type (float32 unless 8-bit).

    Diffusion costs time that grows with the hole's area, and far from the edge it is
    smooth and weighs only `interior_diffusion_share`: a hole larger than the partner's
    `full_resolution_hole_pixels` is diffused at `scale`, then again at full resolution in
    a band along its edge, seeded with that coarse fill inside the band (what that saves
    and costs: docs/MEASUREMENTS.md).
    """
    diffusion = DIFFUSIONS[blend.partner]
    if scale == 1.0:
        return diffusion.fill(colour, hole, blend.radius)
    rows, columns = hole.shape
    size = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    # Any coarse pixel that a hole pixel falls in is a hole: in 8 bits, a partly covered
    # one would round to known and mix the hidden pixels into the fill.
    covered = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    coarse_hole = (covered > 0).astype(np.uint8)
    if coarse_hole.all():
        # Known pixels only in lines thinner than a coarse pixel: nothing to diffuse from
        # at that size, and a full-size biharmonic solve of so large a hole would take
        # minutes. Navier-Stokes costs time in proportion to the hole.
        return _navier_stokes(colour, hole, blend.radius)
    coarse = diffusion.fill(
        cv2.resize(colour, size, interpolation=cv2.INTER_AREA), coarse_hole, blend.radius
    )
    coarse = cv2.resize(coarse, (columns, rows), interpolation=cv2.INTER_LINEAR)
    band = (hole > 0) & (distance <= blend.ramp_end + 2 * blend.radius)
    interior = (hole > 0) & ~band
    seeded = colour.copy() if colour.dtype == coarse.dtype else unit_float(colour)
    seeded[interior] = coarse[interior]
    band_fill = diffusion.fill
    largest = diffusion.largest_band_pixels
    if largest is not None and np.count_nonzero(band) > largest:
        band_fill = _navier_stokes
    return band_fill(seeded, band.astype(np.uint8), blend.radius)
