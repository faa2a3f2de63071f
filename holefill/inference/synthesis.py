"""Guided exemplar synthesis: the holes refilled with patches of the photo's own known
pixels, chosen to agree with the network's fill as well as with each other.

A network trained with pixel losses predicts the conditional mean: where the edges and
colours go, but a blur where texture was. Exemplar methods copy real texture but know no
structure. This is texture optimisation (Wexler, Shechtman and Irani, TPAMI 2007) with
the network's fill as a guide (as in Image Melding, Darabi et al. 2012, and Yang et al.,
CVPR 2017), coarse to fine over a pyramid, several rounds per level:

- **edges first**: edges that cross the hole's edge are paired across the hole and drawn
  into the guide as sharp steps (`holefill.inference.structure`, after Sun et al. 2005),
  so that the search takes patches that carry them through.
- **search**: every patch overlapping the hole looks for the source patch `S`, wholly in
  the known region, that minimises `|E - S|^2 + lambda |m(G) - m(S)|^2 + mu (g(S) -
  g_around)^2`: `E` is the current estimate, `G` the guide, `m` a patch's mean colour
  (scaled to the patch's sum of squares), so the guide says which colours go where and
  leaves the grain free; `g` a patch's grain (the norm of its luma's high frequencies)
  and `g_around` that of the known patches around the hole: without it a smooth guide and
  a smooth start drew the search to smooth patches beside grain. `lambda` (the guide
  weight) falls from the coarsest level to the finest. The nearest neighbours are found
  by PatchMatch (Barnes et al. 2009) run in parallel over all patches, numpy-vectorised:
  propagation as a jump flood (offsets of 8, 4, 2, 1 pixels, four directions), its
  candidates discounted by `SynthesisConfig.coherence` so that neighbours copy one
  source patch, not a mosaic; then random search in windows halving down to one pixel.
  Patches are compared in a PCA projection of their pixels fitted on the source patches,
  `SynthesisConfig.features` numbers instead of `3 p^2`.
- **copy**: each hole pixel takes the centre of its own patch's match. Wexler's vote, the
  mean of what the covering patches put there, blurred (LPIPS 0.253 against 0.243 at the
  finest level on training photos), and the blur then drew the next search to smooth patches.
- the nearest-neighbour field is carried up to the next level and voted with once there
  (the mean of what the covering patches put at each pixel), so that level's search starts
  from the coarser level's texture, as in Wexler's method; started from the network's blur
  at each level instead, the search drifted back to smooth patches (LPIPS 0.2186 against
  0.2142 on training photos).
- **fuse**: the copies are fused with each other and with the known pixels in the
  gradient domain (Perez et al. 2003, as Image Melding does): the fill whose differences
  between neighbours are the copied patches' own and which meets the known pixels, a
  sparse Poisson solve over the hole. Seams between copies and colour steps at the hole's
  edge go; the grain stays. Known pixels are never changed.

Levels at which the photo is larger than `SynthesisConfig.working_side` are not searched
in full: the field of the level below is scaled up, and each match searched again within
`SynthesisConfig.refine_radius` pixels, so that a 12 MP photo has detail at its own
resolution, not blocks copied up from the working scale, for a cost that grows with its
holes and the regions around them, not with the photo. Their fusion starts from the working
scale's correction and takes a few conjugate-gradient steps, a direct solve being too
large. `Inpainter` synthesises a photo region by region (`strategies.Region`), each
searched at the scale of the whole photo.
"""

import dataclasses
import math

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import linalg

from holefill.imaging.photos import LUMA_WEIGHTS
from holefill.inference.structure import continue_edges

# How `Inpainter` fills a hole: the network's fill refined by this synthesis, or the
# network's alone (then blended with diffusion at the seams).
FILLS = ("synthesis", "network")
DEFAULT_FILL = "synthesis"


@dataclasses.dataclass(frozen=True)
class SynthesisConfig:
    """How `synthesize` fills a hole; the defaults were chosen on training photos
    (`bench/synthesis.py`, docs/TRAINING.md).

    Attributes:
        patch_size: side of the compared patches, odd.
        coarse_guide_weight: the guide weight `lambda` (>= 0) at the coarsest level: how
            much the patches' mean colours follow the network's fill rather than their
            neighbours.
        fine_guide_weight: `lambda` at the finest searched level; levels between
            interpolate linearly.
        iterations: search-and-copy rounds per level.
        coarsest_thickness: the pyramid is made deep enough that the hole is at most this
            many pixels from a known pixel at its coarsest level.
        smallest_side: no level is made whose shorter side is under this.
        working_side: levels at which the photo's longer side exceeds this are voted once
            from the level below, not searched: it bounds the cost on large photos.
        features: PCA components per patch that the search compares.
        grain_weight: how much a source patch's grain (the norm of its luma's high
            frequencies) must match the grain of the known patches around the hole: a
            smooth guide otherwise draws the search to smooth patches.
        coherence: the discount, from 0 to under 1, on the distance of a match that
            continues a neighbour's (propagation's candidates): coherent copies keep the
            source's grain through the gradient-domain fusion, where a mosaic of
            one-pixel copies averages it away.
        fuse: the copies fused with each other and with the known pixels in the gradient
            domain, so that no seam or colour step shows (else copied as they are).
        refine_radius: above the working side, each level's matches are searched again
            within this many pixels (0: copied up from the level below), so that a large
            photo has detail at its own resolution, not blocks.
        edges: edges that cross the hole's edge continued through it in the guide
            (`holefill.inference.structure`), so that the copies follow them.
    """

    patch_size: int = 7
    coarse_guide_weight: float = 3.0
    fine_guide_weight: float = 1.0
    iterations: int = 8
    coarsest_thickness: float = 12.0
    smallest_side: int = 24
    working_side: int = 512
    features: int = 16
    grain_weight: float = 8.0
    coherence: float = 0.5
    fuse: bool = True
    refine_radius: int = 4
    edges: bool = True

    def __post_init__(self):
        if self.patch_size < 3 or self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be an odd number >= 3, got {self.patch_size}.")
        for name in ("coarse_guide_weight", "fine_guide_weight", "grain_weight"):
            if not 0.0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be >= 0 and finite, got {getattr(self, name)}.")
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}.")
        if not 0.0 <= self.coherence < 1.0:
            raise ValueError(f"coherence must be in [0, 1), got {self.coherence}.")
        if self.refine_radius < 0:
            raise ValueError(f"refine_radius must be >= 0, got {self.refine_radius}.")
        if self.coarsest_thickness <= 0:
            raise ValueError(f"coarsest_thickness must be positive, got {self.coarsest_thickness}.")
        if self.smallest_side < self.patch_size:
            raise ValueError(
                f"smallest_side must be at least patch_size ({self.patch_size}), "
                f"got {self.smallest_side}."
            )
        if self.working_side < self.smallest_side:
            raise ValueError(
                f"working_side must be at least smallest_side, got {self.working_side}."
            )
        if not 1 <= self.features <= 3 * self.patch_size**2:
            raise ValueError(
                f"features must be from 1 to {3 * self.patch_size**2}, got {self.features}."
            )


DEFAULT_SYNTHESIS = SynthesisConfig()
# How DEFAULT_SYNTHESIS was chosen, for the model card.
CHOSEN_ON = (
    "bench/synthesis.py on every 211th photo of ../shared/data/train (10 photos, 50 samples "
    "at 256 px, generated object masks, buckets (10%,20%] to (50%,60%]; the validation set "
    "was not used): guide weights 0.1-10, patch 5, 7 or 9, 4 to 12 iterations, 8 to 32 "
    "features, the votes, each level started from the coarser one's vote; the pyramid's "
    "depth (a hole 3 to 48 px thick at the coarsest level) with object masks and strokes at "
    "256 and 512 px. Issue 39, on the same photos: the gradient-domain fusion (LPIPS-Alex "
    "0.2141 to 0.2078), the grain term (weights 1-16), the coherence discount (0-0.7), the "
    "fine guide weight 0.3-1, coarse 1-6, patch 5 and 9, 12 iterations, 24 features, "
    "depth 24; LPIPS 0.2018 against 0.2141 before and 0.2060 for PatchMatch, texture ratio "
    "0.76 against 0.68 and 0.96. Coherence 0.7 scored the same LPIPS with more grain "
    "(texture 0.83; at 512 px 0.1988 against PatchMatch's 0.2095, strokes at 256 px 0.1485 "
    "against 0.1545 before and 0.1379) but drifted from a guide's structure; the edges' "
    "continuation "
    "and the refinement above the working side changed no LPIPS at 256 px and were kept for "
    "the cases a person tried (rims and shelves; 12 MP at 100%)"
)

# Jump-flood propagation: each round tries the neighbours' matches at these distances.
PROPAGATION_STEPS = (8, 4, 2, 1)
_DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))
# A refining search (above the working side) compares this many PCA components and
# propagates over these distances.
_REFINE_FEATURES = 4
_REFINE_STEPS = (2, 1)
# PCA is fitted on at most this many source patches per level.
_PCA_PATCHES = 4096
# Holes of up to this many pixels are fused by a direct solve; larger ones iteratively.
_DIRECT_FUSION_PIXELS = 200_000
# Conjugate-gradient steps of an iterative fusion.
_FUSION_ITERATIONS = 10
# The grain is what a Gaussian of this sigma (pixels) blurs away.
_GRAIN_SIGMA = 1.0


def synthesize(colour, holes, guide, config=DEFAULT_SYNTHESIS, seed=0, extent=None):
    """Fills `holes` in `colour` with the photo's own patches, guided by `guide`.

    Args:
        colour: float32 `(height, width, 3)` in [0, 1]; only its known pixels are read.
        holes: bool `(height, width)`, True on the hole.
        guide: float32 `(height, width, 3)`, the network's fill, meaningful on the holes.
        config: a `SynthesisConfig`.
        seed: seeds the random search: the same seed gives the same fill.
        extent: `(height, width)` of the photo that `colour` is a region of (default: its
            own): `config.working_side` applies to the photo's levels, so that every
            region of a photo is searched at the same scale, however the photo is cut.

    Returns:
        float32 `(height, width, 3)`: the synthesis on the holes, `colour` elsewhere. Where
        no patch lies wholly in the known region, the guide is returned on the holes.
    """
    if colour.shape[:2] != holes.shape or guide.shape != colour.shape:
        raise ValueError(
            f"colour {colour.shape}, holes {holes.shape} and guide {guide.shape} must share "
            "their height and width."
        )
    colour = colour.astype(np.float32)
    result = np.where(holes[..., None], guide.astype(np.float32), colour)
    if not holes.any():
        return result
    if config.edges:
        result = np.where(holes[..., None], continue_edges(colour, holes, result), colour)
    rng = np.random.default_rng(seed)
    shapes, searched = _pyramid(holes, config, extent or holes.shape)
    levels = [_Level(result, holes, config.patch_size)]
    for shape in shapes[1:]:
        levels.append(levels[-1].reduced(shape, levels[0]))
    if any(not level.sources.size for level in levels):
        return result
    weights = _guide_weights(config, sum(searched))
    field = coarser = correction = None
    for index in reversed(range(len(levels))):
        level = levels[index]
        if coarser is None:
            field = level.random_field(rng)
        else:
            # The search starts from the coarser level's texture, not from the network's
            # blur at this level, which would draw it back to smooth patches.
            field = level.upsampled_field(field, coarser, rng)
            if searched[index] or not config.refine_radius:
                level.vote(field)
            else:
                # The refinement's search needs an estimate, not a smooth one: the vote
                # costs as much again.
                level.copy_centres(field)
        if searched[index]:
            guide_weight = weights.pop(0)
            for _ in range(config.iterations):
                field = level.search(field, guide_weight, config, rng)
                level.copy_centres(field)
        elif config.refine_radius:
            # Above the working side: the matches moved by a few pixels at most, so that
            # edges and grain sit where this level's pixels put them, not in the blocks of
            # the level below.
            field = level.search(field, config.fine_guide_weight, config, rng, refine=True)
            level.copy_centres(field)
        if config.fuse and (index == 0 or (searched[index] and not searched[index - 1])):
            # Fused where the search ends (its correction then starts the finest level's
            # fusion, which is solved iteratively on a large photo) and at the finest level.
            estimate = level.estimate.reshape(-1, 3)
            copied = estimate[level.hole_pixels]
            start = None
            if correction is not None:
                start = copied + level.upsampled_correction(*correction)
            estimate[level.hole_pixels] = level.fused(field, start)
            correction = (estimate[level.hole_pixels] - copied, level)
        coarser = level
    r = levels[0].radius
    return np.where(holes[..., None], levels[0].estimate[r:-r, r:-r], colour)


def fill_record(config=DEFAULT_SYNTHESIS):
    """The model card's `fill` section: what serving fills with, and how it was chosen."""
    return {
        "default": DEFAULT_FILL,
        "fills": list(FILLS),
        "synthesis": {
            "method": "guided texture optimisation (Wexler et al. 2007) with PatchMatch "
            "search, guided by the network's fill (holefill.inference.synthesis)",
            "parameters": dataclasses.asdict(config),
            "chosen_on": CHOSEN_ON,
        },
    }


def _guide_weights(config, count):
    """The guide weight of each searched level, coarsest first."""
    if count <= 1:
        return [config.fine_guide_weight] * count
    return np.linspace(config.coarse_guide_weight, config.fine_guide_weight, count).tolist()


def _pyramid(holes, config, extent):
    """Level shapes, finest (the region's) first, halving until the hole is thin enough
    and the photo's (`extent`) level fits `working_side`; and whether each is searched
    (the photo's level fits, or it is the coarsest)."""
    thickness = float(cv2.distanceTransform(holes.view(np.uint8), cv2.DIST_L2, 3).max())
    height, width = holes.shape
    photo_side = max(extent)
    shapes, photo_sides = [(height, width)], [photo_side]
    while thickness > config.coarsest_thickness or photo_side > config.working_side:
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        if min(height, width) < config.smallest_side:
            break
        photo_side = math.ceil(photo_side / 2)
        shapes.append((height, width))
        photo_sides.append(photo_side)
        thickness /= 2
    searched = [side <= config.working_side for side in photo_sides]
    searched[-1] = True
    return shapes, searched


class _Level:
    """One pyramid level: its pixels padded by half a patch (reflected), its hole, its
    guide, the current estimate, and which patch centres are targets and sources."""

    def __init__(self, filled, holes, patch_size):
        # `filled` is the photo with the guide in its holes; sources never read the holes.
        self.radius = radius = patch_size // 2
        self.patch_size = patch_size
        self.shape = holes.shape
        pad = (radius, radius, radius, radius)
        self.known = cv2.copyMakeBorder(filled, *pad, cv2.BORDER_REFLECT_101)
        self.guide = self.known.copy()
        self.estimate = self.known.copy()
        hole = cv2.copyMakeBorder(holes.view(np.uint8), *pad, cv2.BORDER_REFLECT_101)
        self.hole = hole.astype(bool)
        kernel = np.ones((patch_size, patch_size), np.uint8)
        touches_hole = cv2.dilate(hole, kernel).astype(bool)
        inside = np.zeros_like(self.hole)
        inside[radius:-radius, radius:-radius] = True
        # Patch centres: targets are those whose patch overlaps the hole, sources those
        # whose patch lies wholly in the known region.
        self.targets = np.flatnonzero(touches_hole & inside)
        self.sources = np.flatnonzero(~touches_hole & inside)
        self.is_source = (~touches_hole & inside).ravel()
        self.hole_pixels = np.flatnonzero(self.hole & inside)
        self.width = self.hole.shape[1]
        self._source_features = None
        self._basis = None
        self._propagation = None

    def reduced(self, shape, finest):
        """This level's photo, hole and guide scaled down to `shape` (rows, columns)."""
        r = finest.radius
        size = (shape[1], shape[0])
        hole = finest.hole[r:-r, r:-r].astype(np.float32)
        coarse_hole = cv2.resize(hole, size, interpolation=cv2.INTER_AREA) > 0
        known = cv2.resize(finest.known[r:-r, r:-r], size, interpolation=cv2.INTER_AREA)
        # A coarse pixel that any hole pixel falls in is a hole: it mixes the guide in.
        return _Level(known, coarse_hole, finest.patch_size)

    # The field maps each padded pixel index to the padded index of a source centre; it
    # is meaningful at the targets.
    def random_field(self, rng):
        field = np.zeros(self.hole.size, np.int64)
        field[self.targets] = rng.choice(self.sources, size=self.targets.size)
        return field

    def upsampled_field(self, coarse_field, coarse, rng):
        """The coarser level's field carried to this level: each target takes its coarse
        pixel's source, scaled, plus its own offset within that pixel."""
        r, cr = self.radius, coarse.radius
        rows, columns = np.divmod(self.targets, self.width)
        rows, columns = rows - r, columns - r
        scale_rows = coarse.shape[0] / self.shape[0]
        scale_columns = coarse.shape[1] / self.shape[1]
        coarse_rows = np.minimum((rows * scale_rows).astype(np.int64), coarse.shape[0] - 1)
        coarse_columns = np.minimum((columns * scale_columns).astype(np.int64), coarse.shape[1] - 1)
        source = coarse_field[(coarse_rows + cr) * coarse.width + coarse_columns + cr]
        had_match = coarse.is_source[source]
        source_rows, source_columns = np.divmod(source, coarse.width)
        offset_rows = rows - np.round(coarse_rows / scale_rows).astype(np.int64)
        offset_columns = columns - np.round(coarse_columns / scale_columns).astype(np.int64)
        fine_rows = np.round((source_rows - cr) / scale_rows).astype(np.int64) + offset_rows
        fine_columns = (
            np.round((source_columns - cr) / scale_columns).astype(np.int64) + offset_columns
        )
        fine_rows = np.clip(fine_rows, 0, self.shape[0] - 1) + r
        fine_columns = np.clip(fine_columns, 0, self.shape[1] - 1) + r
        candidate = fine_rows * self.width + fine_columns
        valid = had_match & self.is_source[candidate]
        field = np.zeros(self.hole.size, np.int64)
        field[self.targets] = np.where(
            valid, candidate, rng.choice(self.sources, size=self.targets.size)
        )
        return field

    def _appearance(self, pixels, count):
        """PCA features `(pixels, count)` of the patch at every pixel of `pixels`."""
        if self._basis is None:
            self._basis = self._fit_basis(count)
        channels = [np.ascontiguousarray(pixels[..., c]) for c in range(3)]
        # Filled plane by plane: a list of planes stacked would hold them all twice.
        features = np.empty((channels[0].size, len(self._basis)), np.float32)
        for index, kernels in enumerate(self._basis):
            features[:, index] = sum(
                cv2.filter2D(channel, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
                for channel, kernel in zip(channels, kernels, strict=True)
            ).ravel()
        return features

    def _target_appearance(self, pixels, count, targets):
        """`_appearance` at `targets` alone, computed over their bounding box only (the
        box's border pixels, which filtering reflects, are known and no target)."""
        r = self.radius
        rows, columns = np.divmod(targets, self.width)
        top, left = rows.min() - r, columns.min() - r
        box = pixels[top : rows.max() + r + 1, left : columns.max() + r + 1]
        features = self._appearance(box, count)
        return features[(rows - top) * box.shape[1] + columns - left]

    def _layout(self, pixels):
        """The patch's low frequencies: its mean colour, scaled so that distances between
        means are the sums of squares of the patches blurred to them."""
        means = cv2.blur(pixels, (self.patch_size, self.patch_size), borderType=cv2.BORDER_REFLECT)
        return means.reshape(-1, 3) * np.float32(self.patch_size)

    def _grain(self, pixels):
        """`(pixels, 1)`: the norm of each patch's luma high frequencies (the luma minus
        its blur), the grain that a blurred guide lacks."""
        luma = np.ascontiguousarray(pixels @ LUMA_WEIGHTS)
        high = luma - cv2.GaussianBlur(luma, (0, 0), _GRAIN_SIGMA)
        energy = cv2.boxFilter(high * high, -1, (self.patch_size, self.patch_size), normalize=False)
        return np.sqrt(np.maximum(energy, 0.0)).reshape(-1, 1)

    def _surrounding_grain(self, source_grain):
        """`(pixels, 1)`: the grain of the known patches around each pixel, weighted by a
        Gaussian as wide as the hole is thick: what the hole's grain should be."""
        thickness = float(cv2.distanceTransform(self.hole.view(np.uint8), cv2.DIST_L2, 3).max())
        sigma = max(thickness, float(self.patch_size))
        weight = self.is_source.reshape(self.hole.shape).astype(np.float32)
        weighted = source_grain.reshape(self.hole.shape) * weight
        # A blur that wide is cheaper at a reduced size: it keeps nothing finer anyway.
        factor = max(1.0, sigma / 4.0)
        size = (
            max(1, round(self.hole.shape[1] / factor)),
            max(1, round(self.hole.shape[0] / factor)),
        )
        planes = [
            cv2.resize(
                cv2.GaussianBlur(
                    cv2.resize(plane, size, interpolation=cv2.INTER_AREA), (0, 0), sigma / factor
                ),
                self.hole.shape[::-1],
                interpolation=cv2.INTER_LINEAR,
            )
            for plane in (weighted, weight)
        ]
        return (planes[0] / np.maximum(planes[1], 1e-6)).reshape(-1, 1)

    def _fit_basis(self, count):
        """The leading principal directions of the source patches, as correlation kernels:
        `count` lists of one `(p, p)` kernel per colour channel."""
        picked = self.sources[:: max(1, self.sources.size // _PCA_PATCHES)]
        rows, columns = np.divmod(picked, self.width)
        span = np.arange(-self.radius, self.radius + 1)
        patches = self.known[
            rows[:, None, None] + span[None, :, None], columns[:, None, None] + span[None, None, :]
        ].reshape(len(picked), -1)
        patches = patches - patches.mean(axis=0)
        # The covariance's eigenvectors: the same directions as an SVD of the patches, for a
        # tenth of its time.
        _, eigenvectors = np.linalg.eigh(patches.T @ patches)
        directions = eigenvectors[:, ::-1].T
        count = min(count, len(directions))
        kernels = directions[:count].reshape(count, self.patch_size, self.patch_size, 3)
        return [
            [np.ascontiguousarray(kernel[..., c], np.float32) for c in range(3)]
            for kernel in kernels
        ]

    def search(self, field, guide_weight, config, rng, refine=False):
        """PatchMatch of the targets against the source patches, by the distance
        `|E - S|^2 + guide_weight * |layout(G) - layout(S)|^2 + grain_weight *
        (grain(S) - surrounding grain)^2`, matches coherent with a neighbour's discounted by
        `config.coherence`. Returns the improved field.

        A search that refines (above the working side) looks within
        `config.refine_radius` pixels of each match and propagates over short distances
        only, comparing `_REFINE_FEATURES` PCA components: the matches are right to a few
        pixels already, and this level may have millions of pixels. It searches for the
        hole's pixels alone, whose matches are what is copied."""
        targets = self.hole_pixels if refine else self.targets
        count = _REFINE_FEATURES if refine else config.features
        if self._source_features is None:
            # A source's appearance, layout and grain side by side: one gather fetches them.
            source_grain = self._grain(self.known)
            self._source_features = np.concatenate(
                [self._appearance(self.known, count), self._layout(self.known), source_grain],
                axis=1,
            )
            self._guide_terms = np.concatenate(
                [self._layout(self.guide)[targets], self._surrounding_grain(source_grain)[targets]],
                axis=1,
            )
        source_features = self._source_features
        # The estimate is the known pixels' own outside the hole (and, in the padding, the
        # guide's, as `known` has them there).
        wanted = np.concatenate(
            [self._target_appearance(self.estimate, count, targets), self._guide_terms], axis=1
        )
        # Gathered into a buffer made once: a fresh array per candidate set costs as much
        # again as the arithmetic (its pages are faulted in each time).
        difference = np.empty_like(wanted)
        appearance, layout, grain = difference[:, :-4], difference[:, -4:-1], difference[:, -1]

        def distance_to(candidate):
            np.take(source_features, candidate, axis=0, out=difference)
            np.subtract(difference, wanted, out=difference)
            return (
                np.einsum("ij,ij->i", appearance, appearance)
                + guide_weight * np.einsum("ij,ij->i", layout, layout)
                + config.grain_weight * np.square(grain)
            )

        current = field[targets]
        best = distance_to(current)

        def consider(candidate, discount=1.0):
            nonlocal best
            distance = distance_to(candidate) * np.float32(discount)
            better = self.is_source[candidate] & (distance < best)
            current[better] = candidate[better]
            best = np.where(better, distance, best)

        for neighbour, has, offset in self._neighbours(
            _REFINE_STEPS if refine else PROPAGATION_STEPS, targets
        ):
            shifted = current[neighbour] - offset
            consider(
                np.where(has, np.clip(shifted, 0, self.hole.size - 1), current),
                1.0 - config.coherence,
            )
        height, width = self.hole.shape
        radius = 2 * config.refine_radius if refine else max(self.shape)
        while radius > 1:
            radius //= 2
            source_rows, source_columns = np.divmod(current, width)
            jump = rng.integers(-radius, radius + 1, size=(2, targets.size))
            candidate_rows = np.clip(source_rows + jump[0], 0, height - 1)
            candidate_columns = np.clip(source_columns + jump[1], 0, width - 1)
            consider(candidate_rows * width + candidate_columns)
        field = field.copy()
        field[targets] = current
        return field

    def _neighbours(self, steps, targets):
        """For each propagation offset (of `steps` pixels, four directions): the index
        among `targets` of each target's neighbour at that offset (0 where it has none),
        whether it has one, and the offset in flat pixels. Made once per level: every
        search round shares them."""
        if self._propagation is None:
            index_of = np.full(self.hole.size, -1, np.int64)
            index_of[targets] = np.arange(targets.size)
            rows, columns = np.divmod(targets, self.width)
            height, width = self.hole.shape
            self._propagation = []
            for step in steps:
                for dy, dx in _DIRECTIONS:
                    neighbour_rows, neighbour_columns = rows + dy * step, columns + dx * step
                    inside = (
                        (neighbour_rows >= 0)
                        & (neighbour_rows < height)
                        & (neighbour_columns >= 0)
                        & (neighbour_columns < width)
                    )
                    neighbour = np.where(inside, neighbour_rows * width + neighbour_columns, 0)
                    neighbour_index = np.where(inside, index_of[neighbour], -1)
                    self._propagation.append(
                        (
                            np.maximum(neighbour_index, 0),
                            neighbour_index >= 0,
                            dy * step * width + dx * step,
                        )
                    )
        return self._propagation

    def copy_centres(self, field):
        """Each hole pixel takes the centre of its own patch's match. The mean of the
        matches of all the patches covering it (Wexler's vote) blurred: on training photos
        it cost LPIPS, and the blur then drew the next search to smooth patches."""
        estimate = self.estimate.reshape(-1, 3)
        estimate[self.hole_pixels] = self.known.reshape(-1, 3)[field[self.hole_pixels]]

    def upsampled_correction(self, correction, coarse):
        """`correction` (float32 `(hole pixels, 3)` of the level `coarse`) scaled up to this
        level's hole pixels."""
        plane = np.zeros((coarse.hole.size, 3), np.float32)
        plane[coarse.hole_pixels] = correction
        cr, r = coarse.radius, self.radius
        plane = plane.reshape(*coarse.hole.shape, 3)[cr:-cr, cr:-cr]
        plane = cv2.resize(plane, self.shape[::-1], interpolation=cv2.INTER_LINEAR)
        plane = cv2.copyMakeBorder(plane, r, r, r, r, cv2.BORDER_CONSTANT)
        return plane.reshape(-1, 3)[self.hole_pixels]

    def fused(self, field, start=None):
        """The hole's pixels fused with the known ones in the gradient domain (Pérez et
        al. 2003, as Image Melding does): the values whose differences between neighbours
        are the copied patches' own, and which meet the known pixels without a step.
        Returns float32 `(hole pixels, 3)`."""
        pixels, width = self.hole_pixels, self.width
        count = pixels.size
        index_of = np.full(self.hole.size, -1, np.int64)
        index_of[pixels] = np.arange(count)
        flat = self.known.reshape(-1, 3)
        source = field[pixels]
        r = self.radius
        height = self.hole.shape[0]
        diagonal = np.zeros(count, np.float64)
        rhs = np.zeros((count, 3), np.float64)
        rows, columns = [], []
        for offset in (1, -1, width, -width):
            neighbour = pixels + offset
            neighbour_rows, neighbour_columns = np.divmod(neighbour, width)
            # Neighbours in the padding are no neighbours: the photo's edge is free.
            inside = (
                (neighbour_rows >= r)
                & (neighbour_rows < height - r)
                & (neighbour_columns >= r)
                & (neighbour_columns < width - r)
            )
            at = np.flatnonzero(inside)
            difference = flat[source[at]] - flat[source[at] + offset]
            other = index_of[neighbour[at]]
            in_hole = other >= 0
            if offset < 0:
                # Between two hole pixels, what the copy of the upper or left one says: one
                # source's difference, at its full amplitude (the mean of two copies'
                # differences, where they are not one patch, halves the grain's).
                their_source = field[neighbour[at][in_hole]]
                difference[in_hole] = flat[their_source - offset] - flat[their_source]
            diagonal[at] += 1.0
            rhs[at] += difference
            known = at[~in_hole]
            rhs[known] += flat[neighbour[known]]
            rows.append(at[in_hole])
            columns.append(other[in_hole])
        rows, columns = np.concatenate(rows), np.concatenate(columns)
        matrix = sparse.csc_matrix(
            (
                np.concatenate([diagonal, -np.ones(rows.size)]),
                (
                    np.concatenate([np.arange(count), rows]),
                    np.concatenate([np.arange(count), columns]),
                ),
            ),
            shape=(count, count),
        )
        if count <= _DIRECT_FUSION_PIXELS or start is None:
            # The matrix is symmetric: an ordering of A + A^T and symmetric pivoting factor
            # it in about half the time of the default's.
            solved = linalg.splu(
                matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True}
            ).solve(rhs)
        else:
            # A direct solve of a large hole costs seconds and gigabytes; started from the
            # coarser level's fusion, whose correction has the low frequencies right, a few
            # conjugate-gradient steps mend what is left, the seams between copies.
            matrix = matrix.tocsr()
            solved = np.stack(
                [
                    linalg.cg(matrix, rhs[:, c], x0=start[:, c], maxiter=_FUSION_ITERATIONS)[0]
                    for c in range(3)
                ],
                axis=1,
            )
        return np.clip(solved, 0.0, 1.0).astype(np.float32)

    def vote(self, field):
        """Each hole pixel becomes the mean of what the patches covering it (every target
        within half a patch) put there: on a field scaled up from the coarser level, this
        smooths the steps between the blocks that one coarse match covers."""
        r, width = self.radius, self.width
        pixels = self.hole_pixels
        total = np.zeros((pixels.size, 3), np.float32)
        flat_known = self.known.reshape(-1, 3)
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                offset = dy * width + dx
                total += flat_known[field[pixels - offset] + offset]
        self.estimate.reshape(-1, 3)[pixels] = total / np.float32(self.patch_size**2)
