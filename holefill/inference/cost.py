"""What a job will cost, known from the photo's header and the mask before the photo is
decoded or the network runs.

A job's seconds are the sum of what it runs, each unit timed on one machine by `measure`
(`holefill measure-cost` writes them into the model card's `cost` section):

    network passes     one tile through the network, as `strategies.plan` counts them;
                       Monte-Carlo draws add the head's share of a pass per draw
    hole megapixels    the synthesis's search, votes and fusion ("synthesis" fill)
    region megapixels  the plan's regions (`strategies.Region`), each worked on with the
                       photo around it: the seams' diffusion, the error map's features
                       and the synthesis's sources
    megapixels         the rest, over the whole photo: decoding, copying, encoding

Its peak memory is estimated the same way, from the resident model (`base_gb`), GB per
megapixel of the photo, of the largest region (regions are worked on one at a time), of
the hole in the region that has most of it (the synthesis's search and fusion keep arrays
per hole pixel at full resolution) and, for a Monte-Carlo map, of the photo again (the
draws' moments and spread are kept whole), each measured in a fresh process.

A job estimated over the card's `budget_seconds` or `memory_budget_gb` is refused with 413
`over_cost_budget`, naming the part that costs most and what shrinks it: a job that
memory would stop is never started (and never billed).
"""

import concurrent.futures
import dataclasses
import io
import math
import multiprocessing
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from holefill.card import CostRates
from holefill.errors import InputTooLargeError

# Well inside the InpaintFunction's 300 s, as measured on 2 cores: half of it, so that a
# 3,008 MB function's 1.7 vCPUs still finish with room. (120 s until the synthesis refined
# and fused at full resolution, which took a 50 MP stroke grid from 80 to 125 s.)
DEFAULT_BUDGET_SECONDS = 150.0
# Under the InpaintFunction's default 5,308 MB, with room for what is not estimated.
DEFAULT_MEMORY_BUDGET_GB = 4.5
# What shrinks each part of the estimate, for the refusal's message.
REMEDIES = {
    "network": "a smaller photo or fewer, smaller holes (each tile of the network that a "
    "hole touches is a pass), or fewer uncertainty samples",
    "synthesis": "a smaller hole, or the network's fill alone (fill=network)",
    "regions": "holes closer together (each group of holes is worked on with the photo "
    "around it), or a smaller photo",
    "holes": "a smaller hole, or the network's fill alone (fill=network)",
    "photo": "a smaller photo",
    "monte-carlo": "the error map or no uncertainty map instead of the Monte-Carlo one, or "
    "a smaller photo",
}


@dataclasses.dataclass(frozen=True)
class Job:
    """What a job will run: the units that `CostModel` prices."""

    pixels: int
    hole_pixels: int
    region_pixels: int
    largest_region_pixels: int
    passes: int
    samples: int
    fill: str
    largest_region_hole_pixels: int

    @classmethod
    def of(cls, holes, plan, *, samples, fill):
        """The job of filling `holes` (bool, True = hole) as `plan` (a `strategies.Plan`)
        says."""
        return cls(
            holes.size,
            int(np.count_nonzero(holes)),
            plan.region_pixels,
            plan.largest_region_pixels,
            plan.passes,
            samples,
            fill,
            plan.largest_region_hole_pixels,
        )


class CostModel(CostRates):
    """`CostRates` (the card's record of them, `holefill.card`), and what they estimate."""

    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    memory_budget_gb: float = DEFAULT_MEMORY_BUDGET_GB

    @classmethod
    def from_card(cls, card):
        """The `ModelCard`'s `cost` section, or None for a card without one."""
        if card.cost is None:
            return None
        return cls(**card.cost.model_dump(include=set(CostRates.model_fields)))

    def estimate(self, job):
        """Seconds by part ("network", "synthesis", "regions", "photo") of a `Job`."""
        return {
            "network": job.passes * self.seconds_per_pass * (1 + job.samples * self.head_share),
            "synthesis": job.hole_pixels / 1e6 * self.seconds_per_hole_megapixel
            if job.fill == "synthesis"
            else 0.0,
            "regions": job.region_pixels / 1e6 * self.seconds_per_region_megapixel,
            "photo": job.pixels / 1e6 * self.seconds_per_megapixel,
        }

    def estimate_gb(self, job):
        """Peak GB by part ("model", "photo", "regions", "holes", "monte-carlo") of a
        `Job`."""
        return {
            "model": self.base_gb,
            "photo": job.pixels / 1e6 * self.gb_per_megapixel,
            "regions": job.largest_region_pixels / 1e6 * self.gb_per_region_megapixel,
            "holes": job.largest_region_hole_pixels / 1e6 * self.gb_per_hole_megapixel
            if job.fill == "synthesis"
            else 0.0,
            "monte-carlo": job.pixels / 1e6 * self.gb_per_monte_carlo_megapixel
            if job.samples
            else 0.0,
        }

    def check(self, job):
        """Raises `InputTooLargeError` "over_cost_budget" for a `Job` estimated over the
        memory or the time budget; returns the estimate's seconds by part otherwise."""
        gigabytes = self.estimate_gb(job)
        _check_budget(
            gigabytes,
            self.memory_budget_gb,
            "need",
            "GB of memory",
            ("photo", "regions", "holes", "monte-carlo"),
        )
        seconds = self.estimate(job)
        _check_budget(seconds, self.budget_seconds, "take", "s", tuple(seconds))
        return seconds


def _check_budget(parts, budget, verb, unit, shrinkable):
    """Raises the refusal of a job whose `parts` add up to more than `budget`, naming the
    largest of the `shrinkable` ones and what shrinks it."""
    total = sum(parts.values())
    if total <= budget:
        return
    digits = 0 if unit == "s" else 1
    largest = max(shrinkable, key=parts.get)
    described = ", ".join(f"{part} {value:.{digits}f}" for part, value in parts.items())
    raise InputTooLargeError(
        "over_cost_budget",
        f"this job would {verb} about {total:.{digits}f} {unit} ({described}); the limit "
        f"is {budget:.{digits}f}. Most of it is the {largest}: send {REMEDIES[largest]}",
    )


def measure(
    model,
    *,
    side=4096,
    repeats=3,
    budget_seconds=DEFAULT_BUDGET_SECONDS,
    memory_budget_gb=DEFAULT_MEMORY_BUDGET_GB,
):
    """Times each unit of `CostModel` with a loaded `LiteRTModel` on this machine.

    A `side` x `side` photo (smooth noise, as a JPEG) is filled JPEG to JPEG with the
    card's uncertainty map, as the API serves it: with one small hole and the network's
    fill (passes and the whole photo), and under the synthesis with a small hole, a
    larger one (its region hardly larger) and a sparse grid of thin strokes (its regions
    the whole photo); the two differences give the seconds per hole and per region
    megapixel. Each time is the median of `repeats` runs. The default side is a phone
    photo's: the synthesis searches a photo at the scale that fits its working side, so a
    smaller photo is searched at a larger share of its pixels and would price every hole
    pixel of a phone photo too high (2x at 2048 px). The peak memory of the small
    hole (also with a Monte-Carlo map, if the model draws), of the larger hole, of the
    grid, and of the model alone, each in a fresh process, give the GB per photo, per
    hole, per region and per Monte-Carlo megapixel.

    Returns:
        A `CostModel`.
    """
    from holefill.inference.inpainter import Inpainter

    inpainter = Inpainter(model, cost=UNBOUNDED)
    photo, jpeg = _noise_photo(side)
    tile = inpainter.model.tile_size

    def seconds(run):
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known = np.ones((tile, tile, 1), np.float32)
    known[tile // 4 : tile // 2, tile // 4 : tile // 2] = 0
    tile_image = photo[:tile, :tile].astype(np.float32) / 255
    inpainter.model.predict(tile_image, known)  # the first run sets LiteRT up
    per_pass = seconds(lambda: inpainter.model.predict(tile_image, known))

    square, grid = _square(side, 0.001), _grid(side)

    def timed(holes, fill):
        # The job's own seconds less its passes, which are priced on their own.
        job = Job.of(holes, inpainter.plan(holes), samples=0, fill=fill)
        run = seconds(
            lambda: inpainter.inpaint(jpeg, holes, fill=fill, uncertainty="auto").encode()
        )
        return job, run - job.passes * per_pass

    _, small = timed(square, "network")
    per_megapixel = max(0.0, small) / (side * side / 1e6)
    base_job, base = timed(square, "synthesis")
    compact_job, compact = timed(_square(side, 0.02), "synthesis")
    spread_job, spread = timed(grid, "synthesis")
    # compact - base and spread - base = holes x a + regions x b, in megapixels.
    differences = np.array(
        [
            [
                (job.hole_pixels - base_job.hole_pixels) / 1e6,
                (job.region_pixels - base_job.region_pixels) / 1e6,
            ]
            for job in (compact_job, spread_job)
        ]
    )
    per_hole, per_region = np.maximum(
        np.linalg.solve(differences, [compact - base, spread - base]), 0
    )
    # A model without dropout draws none: its memory and share are never used.
    monte_carlo = inpainter.model.card.monte_carlo
    draws = monte_carlo is not None
    peaks = {}
    # One fresh process per peak: a process's peak memory is all it keeps.
    spawn = multiprocessing.get_context("spawn")
    for job in ("none", "square", "compact", "grid", *(("monte-carlo",) if draws else ())):
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as process:
            peaks[job] = process.submit(
                _peak_gb, model.model_dir, model.threads, side, job
            ).result()
    megapixels = side * side / 1e6
    square_region = base_job.largest_region_pixels / 1e6
    grid_region = spread_job.largest_region_pixels / 1e6
    gb_per_megapixel = max(0.0, peaks["square"] - peaks["none"]) / megapixels
    gb_per_region = max(0.0, peaks["grid"] - peaks["square"]) / (grid_region - square_region)
    # The larger hole's region is hardly larger: what its peak adds is the hole's.
    compact_region = compact_job.largest_region_pixels / 1e6
    hole_megapixels = (
        compact_job.largest_region_hole_pixels - base_job.largest_region_hole_pixels
    ) / 1e6
    gb_per_hole = (
        max(
            0.0,
            peaks["compact"] - peaks["square"] - (compact_region - square_region) * gb_per_region,
        )
        / hole_megapixels
    )
    gb_per_draws = max(0.0, peaks.get("monte-carlo", 0.0) - peaks["square"]) / megapixels
    return CostModel(
        seconds_per_pass=per_pass,
        head_share=monte_carlo.gflop_head_per_sample / monte_carlo.gflop_trunk if draws else 1.0,
        seconds_per_hole_megapixel=float(per_hole),
        seconds_per_region_megapixel=float(per_region),
        seconds_per_megapixel=per_megapixel,
        base_gb=peaks["none"],
        gb_per_megapixel=gb_per_megapixel,
        gb_per_region_megapixel=gb_per_region,
        gb_per_hole_megapixel=gb_per_hole,
        gb_per_monte_carlo_megapixel=gb_per_draws,
        budget_seconds=budget_seconds,
        memory_budget_gb=memory_budget_gb,
    )


# For timing and measuring jobs whatever the card's budget.
UNBOUNDED = CostModel(
    **dict.fromkeys(CostRates.model_fields, 0.0)
    | {"budget_seconds": math.inf, "memory_budget_gb": math.inf}
)


def _noise_photo(side):
    """Smooth noise, `side` x `side`: its pixels and the JPEG of them."""
    noise = np.random.default_rng(0).random((side // 16, side // 16, 3), np.float32)
    photo = np.asarray(Image.fromarray((noise * 255).astype(np.uint8)).resize((side, side)))
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    return photo, buffer.getvalue()


def _square(side, fraction):
    holes = np.zeros((side, side), bool)
    hole_side = max(1, round(side * fraction**0.5))
    holes[side // 3 : side // 3 + hole_side, side // 3 : side // 3 + hole_side] = True
    return holes


def _grid(side):
    """Thin strokes every 256 px, and along the far edges: regions over the whole photo."""
    holes = np.zeros((side, side), bool)
    holes[::256] = holes[:, ::256] = True
    holes[-1] = holes[:, -1] = True
    return holes


def _peak_gb(model_dir, threads, side, job):
    """In a fresh process: the peak resident GB of loading the model and, unless `job`
    is "none", serving one job as `measure` times it: "square", "compact" (the larger
    square), "grid", or "monte-carlo" (the square with a Monte-Carlo map of the default
    draws)."""
    from holefill.inference.inpainter import Inpainter

    inpainter = Inpainter.load(
        model_dir, threads=threads, cost=UNBOUNDED, validated_uncertainty_only=False
    )
    _, jpeg = _noise_photo(side)
    tile = inpainter.model.tile_size
    known = np.ones((tile, tile, 1), np.float32)
    inpainter.model.predict(np.zeros((tile, tile, 3), np.float32), known)
    if job != "none":
        mask = {"grid": _grid(side), "compact": _square(side, 0.02)}.get(job)
        if mask is None:
            mask = _square(side, 0.001)
        uncertainty = "monte-carlo" if job == "monte-carlo" else "auto"
        inpainter.inpaint(jpeg, mask, uncertainty=uncertainty).encode()
    return peak_resident_gb()


def peak_resident_gb():
    """This process's peak resident memory in GB (Linux's VmHWM: unlike `ru_maxrss`, it
    starts afresh in a new program, not at the size of the process that forked it)."""
    status = Path("/proc/self/status")
    if not status.exists():
        raise RuntimeError("measuring peak memory needs Linux's /proc (Lambda runs Linux)")
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    raise RuntimeError("/proc/self/status has no VmHWM line")
