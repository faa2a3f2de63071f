"""What a job will cost, known from the photo's header and the mask before the photo is
decoded or the network runs.

A job's seconds are the sum of what it runs, each unit timed on one machine by `measure`
(`holefill measure-cost` writes them into the model card's `cost` section):

    network passes    one tile through the network, as `strategies.plan` counts them;
                      Monte-Carlo draws add the head's share of a pass per draw
    hole megapixels   the synthesis's search and votes ("synthesis" fill)
    megapixels        the rest, over the whole photo: decoding, the seams' diffusion, the
                      error map, encoding

A job estimated over the card's `budget_seconds` is refused with 413 `over_cost_budget`,
naming the part that costs most and what shrinks it.
"""

import dataclasses
import io
import math
import statistics
import time

import numpy as np
from PIL import Image

from holefill.errors import InputTooLargeError

# Well inside the InpaintFunction's 300 s on a Lambda of 3 vCPUs, as measured on 2 cores.
DEFAULT_BUDGET_SECONDS = 120.0
# What shrinks each part of the estimate, for the refusal's message.
REMEDIES = {
    "network": "a smaller photo or fewer, smaller holes (each tile of 512 px that a hole "
    "touches is a network pass), or fewer uncertainty samples",
    "synthesis": "a smaller hole, or the network's fill alone (fill=network)",
    "photo": "a smaller photo",
}


@dataclasses.dataclass(frozen=True)
class CostModel:
    """Seconds per unit of work, and the budget a job's estimate must stay within.

    Attributes:
        seconds_per_pass: one tile through the network.
        head_share: a Monte-Carlo draw's cost as a share of a pass (the head reruns, the
            trunk does not).
        seconds_per_hole_megapixel: the synthesis, per million hole pixels.
        seconds_per_megapixel: decoding, blending, the error map and encoding, per million
            pixels of the photo.
        budget_seconds: the most a job may be estimated to take.
    """

    seconds_per_pass: float
    head_share: float
    seconds_per_hole_megapixel: float
    seconds_per_megapixel: float
    budget_seconds: float = DEFAULT_BUDGET_SECONDS

    @classmethod
    def from_card(cls, card):
        """The card's `cost` section, or None for a card without one."""
        section = card.get("cost")
        if section is None:
            return None
        return cls(**{field.name: section[field.name] for field in dataclasses.fields(cls)})

    def estimate(self, *, pixels, hole_pixels, passes, samples, fill):
        """Seconds by part ("network", "synthesis", "photo") of a job.

        Args:
            pixels: the photo's width x height.
            hole_pixels: how many of them are holes.
            passes: network passes (`strategies.Plan.passes`).
            samples: Monte-Carlo draws per pass (0 for none).
            fill: "synthesis" or "network".
        """
        return {
            "network": passes * self.seconds_per_pass * (1 + samples * self.head_share),
            "synthesis": hole_pixels / 1e6 * self.seconds_per_hole_megapixel
            if fill == "synthesis"
            else 0.0,
            "photo": pixels / 1e6 * self.seconds_per_megapixel,
        }

    def check(self, **job):
        """Raises `InputTooLargeError` "over_cost_budget" for a job (the arguments of
        `estimate`) estimated over the budget; returns the estimate's parts otherwise."""
        parts = self.estimate(**job)
        total = sum(parts.values())
        if total > self.budget_seconds:
            largest = max(parts, key=parts.get)
            described = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in parts.items())
            raise InputTooLargeError(
                "over_cost_budget",
                f"this job would take about {total:.0f} s ({described}); the limit is "
                f"{self.budget_seconds:.0f} s. Most of it is the {largest}: send "
                f"{REMEDIES[largest]}",
            )
        return parts


def measure(model, *, side=2048, repeats=3, budget_seconds=DEFAULT_BUDGET_SECONDS):
    """Times each unit of `CostModel` with a loaded `LiteRTModel` on this machine.

    A `side` x `side` photo (smooth noise, as a JPEG) is filled three ways: with one
    small hole and the network's fill (passes and the whole photo), and with holes of
    two sizes under the synthesis, whose difference gives its seconds per hole
    megapixel. Each is the median of `repeats` runs.

    Returns:
        A `CostModel`.
    """
    from holefill.inference.inpainter import Inpainter

    # Timed without a budget, whatever the card's.
    inpainter = Inpainter(model, cost=CostModel(0.0, 0.0, 0.0, 0.0, budget_seconds=math.inf))
    rng = np.random.default_rng(0)
    noise = rng.random((side // 16, side // 16, 3), np.float32)
    photo = np.asarray(Image.fromarray((noise * 255).astype(np.uint8)).resize((side, side)))
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    jpeg = buffer.getvalue()
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

    def holes(fraction):
        mask = np.zeros((side, side), bool)
        hole_side = max(1, round(side * fraction**0.5))
        mask[side // 3 : side // 3 + hole_side, side // 3 : side // 3 + hole_side] = True
        return mask

    def job(mask, fill):
        return lambda: inpainter.inpaint(jpeg, mask, fill=fill).encode()

    small, large = holes(0.001), holes(0.02)
    whole = seconds(job(small, "network"))
    passes = inpainter.plan(small).passes
    per_megapixel = max(0.0, whole - passes * per_pass) / (side * side / 1e6)
    synthesis = seconds(job(large, "synthesis")) - seconds(job(small, "synthesis"))
    large_passes = inpainter.plan(large).passes
    synthesis -= (large_passes - passes) * per_pass
    per_hole_megapixel = max(0.0, synthesis) / ((large.sum() - small.sum()) / 1e6)
    # A model without dropout draws none: its share is never used.
    monte_carlo = inpainter.model.card.get("monte_carlo") or {}
    trunk, head = monte_carlo.get("gflop_trunk"), monte_carlo.get("gflop_head_per_sample")
    return CostModel(
        seconds_per_pass=per_pass,
        head_share=head / trunk if trunk and head else 1.0,
        seconds_per_hole_megapixel=per_hole_megapixel,
        seconds_per_megapixel=per_megapixel,
        budget_seconds=budget_seconds,
    )
