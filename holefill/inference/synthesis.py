"""Guided exemplar synthesis: the holes refilled with patches of the photo's own known
pixels, chosen to agree with the network's fill as well as with each other.

A network trained with pixel losses predicts the conditional mean: where the edges and
colours go, but a blur where texture was. Exemplar methods copy real texture but know no
structure. This is texture optimisation (Wexler, Shechtman and Irani, TPAMI 2007) with
the network's fill as a guide (as in Image Melding, Darabi et al. 2012, and Yang et al.,
CVPR 2017), coarse to fine over a pyramid, several rounds per level:

- **search**: every patch overlapping the hole looks for the source patch `S`, wholly in
  the known region, that minimises `|E - S|^2 + lambda |m(G) - m(S)|^2`: `E` is the current
  estimate, `G` the guide, and `m` a patch's mean colour (scaled to the patch's sum of
  squares), so the guide says which colours go where and leaves the grain free: on the
  whole patch, the guide's blur drew the search to smooth patches. `lambda` (the guide
  weight) falls from the coarsest level to the finest. The nearest neighbours are found
  by PatchMatch (Barnes et al. 2009) run in parallel over all patches, numpy-vectorised:
  propagation as a jump flood (offsets of 8, 4, 2, 1 pixels, four directions), then
  random search in windows halving down to one pixel. Patches are compared in a PCA
  projection of their pixels fitted on the source patches, `SynthesisConfig.features`
  numbers instead of `3 p^2`.
- **copy**: each hole pixel takes the centre of its own patch's match. Wexler's vote, the
  mean of what the covering patches put there, blurred (LPIPS 0.253 against 0.243 at the
  finest level on training photos), and the blur then drew the next search to smooth patches.
- the nearest-neighbour field is carried up to the next level and voted with once there
  (the mean of what the covering patches put at each pixel), so that level's search starts
  from the coarser level's texture, as in Wexler's method; started from the network's blur
  at each level instead, the search drifted back to smooth patches (LPIPS 0.2186 against
  0.2142 on training photos). At the finest level the known pixels' own grain is what
  fills the hole. Known pixels are never changed.

Levels at which the photo is larger than `SynthesisConfig.working_side` are not
searched: the field of the level below is scaled up and voted with once (which also
smooths the steps between the blocks that one coarse match covers), so a 12 MP photo
costs about what a `working_side` window costs, with full-resolution texture copied into
its holes. `Inpainter` synthesises a photo region by region (`strategies.Region`), each
searched at the scale of the whole photo.
"""

import dataclasses
import math

import cv2
import numpy as np

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
    """

    patch_size: int = 7
    coarse_guide_weight: float = 3.0
    fine_guide_weight: float = 1.0
    iterations: int = 8
    coarsest_thickness: float = 12.0
    smallest_side: int = 24
    working_side: int = 512
    features: int = 16

    def __post_init__(self):
        if self.patch_size < 3 or self.patch_size % 2 == 0:
            raise ValueError(f"patch_size must be an odd number >= 3, got {self.patch_size}.")
        for name in ("coarse_guide_weight", "fine_guide_weight"):
            if not 0.0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be >= 0 and finite, got {getattr(self, name)}.")
        if self.iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {self.iterations}.")
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
    "features, the votes, each level started from the coarser one's vote; LPIPS-Alex 0.214 "
    "against 0.290 for the network alone and 0.206 for PatchMatch. The pyramid's depth (a "
    "hole at most 3 to 48 px from a known pixel at the coarsest level) on the same photos "
    "with object masks and with strokes, at 256 and 512 px: 12 against 6, LPIPS 0.2142 to "
    "0.2141 and 0.2233 to 0.2193 (objects, 256 and 512 px), 0.1585 to 0.1545 and 0.1739 to "
    "0.1708 (strokes)"
)

# Jump-flood propagation: each round tries the neighbours' matches at these distances.
PROPAGATION_STEPS = (8, 4, 2, 1)
_DIRECTIONS = ((0, 1), (1, 0), (0, -1), (-1, 0))
# PCA is fitted on at most this many source patches per level.
_PCA_PATCHES = 4096


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
    rng = np.random.default_rng(seed)
    shapes, searched = _pyramid(holes, config, extent or holes.shape)
    levels = [_Level(result, holes, config.patch_size)]
    for shape in shapes[1:]:
        levels.append(levels[-1].reduced(shape, levels[0]))
    if any(not level.sources.size for level in levels):
        return result
    weights = _guide_weights(config, sum(searched))
    field = coarser = None
    for index in reversed(range(len(levels))):
        level = levels[index]
        if coarser is None:
            field = level.random_field(rng)
        else:
            # The search starts from the coarser level's texture, not from the network's
            # blur at this level, which would draw it back to smooth patches.
            field = level.upsampled_field(field, coarser, rng)
            level.vote(field)
        if searched[index]:
            guide_weight = weights.pop(0)
            for _ in range(config.iterations):
                field = level.search(field, guide_weight, config, rng)
                level.copy_centres(field)
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

    def _appearance(self, pixels, config):
        """PCA features `(pixels, features)` of the patch at every pixel of `pixels`."""
        if self._basis is None:
            self._basis = self._fit_basis(config.features)
        channels = [np.ascontiguousarray(pixels[..., c]) for c in range(3)]
        planes = [
            sum(
                cv2.filter2D(channel, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
                for channel, kernel in zip(channels, kernels, strict=True)
            )
            for kernels in self._basis
        ]
        return np.stack(planes, axis=-1).reshape(-1, len(planes))

    def _target_appearance(self, pixels, config):
        """`_appearance` at the targets alone, computed over their bounding box only (the
        box's border pixels, which filtering reflects, are known and no target)."""
        r = self.radius
        rows, columns = np.divmod(self.targets, self.width)
        top, left = rows.min() - r, columns.min() - r
        box = pixels[top : rows.max() + r + 1, left : columns.max() + r + 1]
        features = self._appearance(box, config)
        return features[(rows - top) * box.shape[1] + columns - left]

    def _layout(self, pixels):
        """The patch's low frequencies: its mean colour, scaled so that distances between
        means are the sums of squares of the patches blurred to them."""
        means = cv2.blur(pixels, (self.patch_size, self.patch_size), borderType=cv2.BORDER_REFLECT)
        return means.reshape(-1, 3) * np.float32(self.patch_size)

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

    def search(self, field, guide_weight, config, rng):
        """PatchMatch of the targets against the source patches, by the distance
        `|E - S|^2 + guide_weight * |layout(G) - layout(S)|^2`; returns the improved field."""
        targets = self.targets
        if self._source_features is None:
            # A source's appearance and layout side by side: one gather fetches both.
            self._source_features = np.concatenate(
                [self._appearance(self.known, config), self._layout(self.known)], axis=1
            )
            self._guide_layout = self._layout(self.guide)[targets]
        source_features = self._source_features
        estimate = np.where(self.hole[..., None], self.estimate, self.known)
        wanted = np.concatenate(
            [self._target_appearance(estimate, config), self._guide_layout], axis=1
        )
        # Gathered into a buffer made once: a fresh array per candidate set costs as much
        # again as the arithmetic (its pages are faulted in each time).
        difference = np.empty_like(wanted)
        appearance, layout = difference[:, :-3], difference[:, -3:]

        def distance_to(candidate):
            np.take(source_features, candidate, axis=0, out=difference)
            np.subtract(difference, wanted, out=difference)
            return np.einsum("ij,ij->i", appearance, appearance) + guide_weight * np.einsum(
                "ij,ij->i", layout, layout
            )

        current = field[targets]
        best = distance_to(current)

        def consider(candidate):
            nonlocal best
            distance = distance_to(candidate)
            better = self.is_source[candidate] & (distance < best)
            current[better] = candidate[better]
            best = np.where(better, distance, best)

        for neighbour, has, offset in self._neighbours():
            shifted = current[neighbour] - offset
            consider(np.where(has, np.clip(shifted, 0, self.hole.size - 1), current))
        height, width = self.hole.shape
        radius = max(self.shape)
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

    def _neighbours(self):
        """For each propagation offset: the index among the targets of each target's
        neighbour at that offset (0 where it has none), whether it has one, and the offset
        in flat pixels. Made once per level: every search round shares them."""
        if self._propagation is None:
            index_of = np.full(self.hole.size, -1, np.int64)
            index_of[self.targets] = np.arange(self.targets.size)
            rows, columns = np.divmod(self.targets, self.width)
            height, width = self.hole.shape
            self._propagation = []
            for step in PROPAGATION_STEPS:
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
