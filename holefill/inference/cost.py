"""What a job will cost, known from the photo's header and the mask before the photo is
decoded or the network runs.

A job's seconds are the sum of what it runs, each unit timed on one machine by `measure`
(`holefill measure-cost` writes them into the model card's `cost` section):

    network passes     one tile through the network, as `strategies.plan` counts them;
                       Monte-Carlo draws add the head's share of a pass per draw
    hole megapixels    the synthesis's search and votes ("synthesis" fill)
    span megapixels    the box that spans every hole: the seams' diffusion, the error
                       map's features and the synthesis's sources work on all of it
    megapixels         the rest, over the whole photo: decoding, copying, encoding

Its peak memory is estimated the same way, from the resident model (`base_gb`) and GB
per megapixel of the photo and of the holes' span, each measured in a fresh process.

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

from holefill.errors import InputTooLargeError

# Well inside the InpaintFunction's 300 s on a Lambda of 3 vCPUs, as measured on 2 cores.
DEFAULT_BUDGET_SECONDS = 120.0
# Under the InpaintFunction's default 5,308 MB, with room for what is not estimated.
DEFAULT_MEMORY_BUDGET_GB = 4.5
# What shrinks each part of the estimate, for the refusal's message.
REMEDIES = {
    "network": "a smaller photo or fewer, smaller holes (each tile of the network that a "
    "hole touches is a pass), or fewer uncertainty samples",
    "synthesis": "a smaller hole, or the network's fill alone (fill=network)",
    "span": "holes closer together (the box around all of them is worked on whole), or a "
    "smaller photo",
    "photo": "a smaller photo",
}


@dataclasses.dataclass(frozen=True)
class Job:
    """What a job will run: the units that `CostModel` prices."""

    pixels: int
    hole_pixels: int
    span_pixels: int
    passes: int
    samples: int
    fill: str

    @classmethod
    def of(cls, holes, passes, *, samples, fill):
        """The job of filling `holes` (bool, True = hole) in `passes` network passes."""
        rows, columns = np.flatnonzero(holes.any(axis=1)), np.flatnonzero(holes.any(axis=0))
        span = (rows[-1] - rows[0] + 1) * (columns[-1] - columns[0] + 1) if rows.size else 0
        return cls(holes.size, int(np.count_nonzero(holes)), int(span), passes, samples, fill)


@dataclasses.dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work, and the budget a job's estimate must stay within.

    Attributes:
        seconds_per_pass: one tile through the network.
        head_share: a Monte-Carlo draw's cost as a share of a pass (the head reruns, the
            trunk does not).
        seconds_per_hole_megapixel: the synthesis, per million hole pixels.
        seconds_per_span_megapixel: per million pixels of the box spanning the holes.
        seconds_per_megapixel: decoding, copying and encoding, per million pixels.
        base_gb: the resident process with the model loaded.
        gb_per_megapixel: peak memory per million pixels of the photo.
        gb_per_span_megapixel: peak memory per million pixels of the holes' span.
        budget_seconds: the most a job may be estimated to take.
        memory_budget_gb: the most memory a job may be estimated to need.
    """

    seconds_per_pass: float
    head_share: float
    seconds_per_hole_megapixel: float
    seconds_per_span_megapixel: float
    seconds_per_megapixel: float
    base_gb: float
    gb_per_megapixel: float
    gb_per_span_megapixel: float
    budget_seconds: float = DEFAULT_BUDGET_SECONDS
    memory_budget_gb: float = DEFAULT_MEMORY_BUDGET_GB

    @classmethod
    def from_card(cls, card):
        """The card's `cost` section, or None for a card without one."""
        section = card.get("cost")
        if section is None:
            return None
        return cls(**{field.name: section[field.name] for field in dataclasses.fields(cls)})

    def estimate(self, job):
        """Seconds by part ("network", "synthesis", "span", "photo") of a `Job`."""
        return {
            "network": job.passes * self.seconds_per_pass * (1 + job.samples * self.head_share),
            "synthesis": job.hole_pixels / 1e6 * self.seconds_per_hole_megapixel
            if job.fill == "synthesis"
            else 0.0,
            "span": job.span_pixels / 1e6 * self.seconds_per_span_megapixel,
            "photo": job.pixels / 1e6 * self.seconds_per_megapixel,
        }

    def estimate_gb(self, job):
        """Peak GB by part ("model", "photo", "span") of a `Job`."""
        return {
            "model": self.base_gb,
            "photo": job.pixels / 1e6 * self.gb_per_megapixel,
            "span": job.span_pixels / 1e6 * self.gb_per_span_megapixel,
        }

    def check(self, job):
        """Raises `InputTooLargeError` "over_cost_budget" for a `Job` estimated over the
        memory or the time budget; returns the estimate's seconds by part otherwise."""
        gigabytes = self.estimate_gb(job)
        _check_budget(gigabytes, self.memory_budget_gb, "need", "GB of memory", ("photo", "span"))
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
    side=2048,
    repeats=3,
    budget_seconds=DEFAULT_BUDGET_SECONDS,
    memory_budget_gb=DEFAULT_MEMORY_BUDGET_GB,
):
    """Times each unit of `CostModel` with a loaded `LiteRTModel` on this machine.

    A `side` x `side` photo (smooth noise, as a JPEG) is filled JPEG to JPEG with the
    card's uncertainty map, as the API serves it: with one small hole and the network's
    fill (passes and the whole photo), and under the synthesis with a small hole, a
    larger one (its span as small as it is) and a sparse grid of thin strokes (its span
    the whole photo); the two differences give the seconds per hole and per span
    megapixel. Each time is the median of `repeats` runs. The peak memory of the small
    hole and of the grid, and of the model alone, each in a fresh process, give the GB
    per photo and per span megapixel.

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
        job = Job.of(holes, inpainter.plan(holes).passes, samples=0, fill=fill)
        run = seconds(
            lambda: inpainter.inpaint(jpeg, holes, fill=fill, uncertainty="auto").encode()
        )
        return job, run - job.passes * per_pass

    _, small = timed(square, "network")
    per_megapixel = max(0.0, small) / (side * side / 1e6)
    base_job, base = timed(square, "synthesis")
    compact_job, compact = timed(_square(side, 0.02), "synthesis")
    spread_job, spread = timed(grid, "synthesis")
    # compact - base and spread - base = holes x a + span x b, in megapixels.
    differences = np.array(
        [
            [
                (job.hole_pixels - base_job.hole_pixels) / 1e6,
                (job.span_pixels - base_job.span_pixels) / 1e6,
            ]
            for job in (compact_job, spread_job)
        ]
    )
    per_hole, per_span = np.maximum(
        np.linalg.solve(differences, [compact - base, spread - base]), 0
    )
    peaks = {}
    # One fresh process per peak: a process's peak memory is all it keeps.
    spawn = multiprocessing.get_context("spawn")
    for holes in ("none", "square", "grid"):
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as process:
            peaks[holes] = process.submit(
                _peak_gb, model.model_dir, model.threads, side, holes
            ).result()
    megapixels = side * side / 1e6
    square_span = Job.of(square, 1, samples=0, fill="synthesis").span_pixels / 1e6
    gb_per_megapixel = max(0.0, peaks["square"] - peaks["none"]) / megapixels
    gb_per_span = max(0.0, peaks["grid"] - peaks["square"]) / (megapixels - square_span)
    # A model without dropout draws none: its share is never used.
    monte_carlo = inpainter.model.card.get("monte_carlo") or {}
    trunk, head = monte_carlo.get("gflop_trunk"), monte_carlo.get("gflop_head_per_sample")
    return CostModel(
        seconds_per_pass=per_pass,
        head_share=head / trunk if trunk and head else 1.0,
        seconds_per_hole_megapixel=float(per_hole),
        seconds_per_span_megapixel=float(per_span),
        seconds_per_megapixel=per_megapixel,
        base_gb=peaks["none"],
        gb_per_megapixel=gb_per_megapixel,
        gb_per_span_megapixel=gb_per_span,
        budget_seconds=budget_seconds,
        memory_budget_gb=memory_budget_gb,
    )


# For timing and measuring jobs whatever the card's budget.
UNBOUNDED = CostModel(*[0.0] * 8, budget_seconds=math.inf, memory_budget_gb=math.inf)


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
    """Thin strokes every 256 px, and along the far edges: the span is the whole photo."""
    holes = np.zeros((side, side), bool)
    holes[::256] = holes[:, ::256] = True
    holes[-1] = holes[:, -1] = True
    return holes


def _peak_gb(model_dir, threads, side, holes):
    """In a fresh process: the peak resident GB of loading the model and, unless `holes`
    is "none", serving one job ("square" or "grid") as `measure` times it."""
    from holefill.inference.inpainter import Inpainter

    inpainter = Inpainter.load(model_dir, threads=threads, cost=UNBOUNDED)
    _, jpeg = _noise_photo(side)
    tile = inpainter.model.tile_size
    known = np.ones((tile, tile, 1), np.float32)
    inpainter.model.predict(np.zeros((tile, tile, 3), np.float32), known)
    if holes != "none":
        mask = _square(side, 0.001) if holes == "square" else _grid(side)
        inpainter.inpaint(jpeg, mask, uncertainty="auto").encode()
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
