"""A job's cost, estimated from the photo's header and the mask and refused over the
budget before the photo is decoded or the network runs."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from holefill import Inpainter
from holefill.card import CostSection
from holefill.errors import InputTooLargeError, InvalidInputError
from holefill.inference import strategies
from holefill.inference.cost import CostModel, Job, measure
from holefill.inference.runtime import LiteRTModel

UNITS = CostModel(
    seconds_per_pass=0.5,
    head_share=0.1,
    seconds_per_hole_megapixel=10.0,
    seconds_per_region_megapixel=2.0,
    seconds_per_megapixel=1.0,
    base_gb=0.5,
    gb_per_megapixel=0.1,
    gb_per_region_megapixel=0.8,
    gb_per_hole_megapixel=0.4,
    gb_per_monte_carlo_megapixel=0.2,
    budget_seconds=20.0,
    memory_budget_gb=3.0,
)


def test_the_estimate_adds_each_part_of_the_work():
    holes = np.zeros((2000, 2000), bool)
    holes[100:600, 200:1200] = True  # 0.5 MP of hole
    holes[1999, 1999] = True  # and a pixel far from it: a region of its own
    # Each region is its holes with a margin of a quarter tile, at least a tile a side.
    plan = strategies.plan(holes, 256, "crop")
    assert [region.pixels for region in plan.regions] == [628 * 1128, 256 * 256]
    job = Job.of(holes, plan, samples=0, fill="synthesis")
    assert (job.pixels, job.hole_pixels, job.passes) == (4e6, 500_001, 2)
    assert (job.region_pixels, job.largest_region_pixels) == (628 * 1128 + 256**2, 628 * 1128)
    parts = UNITS.estimate(job)
    regions = 2.0 * (628 * 1128 + 256**2) / 1e6
    assert parts == pytest.approx(
        {"network": 1.0, "synthesis": 5.00001, "regions": regions, "photo": 4.0}
    )
    drawn = Job.of(holes, plan, samples=16, fill="network")
    assert UNITS.estimate(drawn)["network"] == pytest.approx(2.6)
    assert UNITS.estimate(drawn)["synthesis"] == 0
    # The draws' moments and spread are kept for the whole photo.
    assert UNITS.estimate_gb(drawn)["monte-carlo"] == pytest.approx(0.8)
    assert UNITS.estimate_gb(job)["monte-carlo"] == 0
    # The synthesis keeps arrays per hole pixel of the region it works on; the network's
    # fill does not.
    assert job.largest_region_hole_pixels == 500_000
    assert UNITS.estimate_gb(job)["holes"] == pytest.approx(0.2)
    assert UNITS.estimate_gb(drawn)["holes"] == 0


def test_a_job_over_the_budget_names_what_to_shrink():
    job = Job(2e6, 2.5e6, 2.5e6, 2.5e6, 10, 0, "synthesis", 0)
    with pytest.raises(InputTooLargeError, match=r"take about 37 s .* limit is 20\.") as raised:
        UNITS.check(job)
    assert raised.value.code == "over_cost_budget"
    assert "synthesis" in raised.value.message and "fill=network" in raised.value.message
    assert UNITS.check(dataclasses.replace(job, fill="network"))


def test_a_job_memory_would_stop_is_refused_before_it_starts():
    job = Job(4e6, 1e5, 4e6, 4e6, 1, 0, "network", 1e5)  # about 12.5 s, but 0.5 + 0.4 + 3.2 GB
    assert sum(UNITS.estimate(job).values()) < UNITS.budget_seconds
    assert UNITS.estimate_gb(job) == pytest.approx(
        {"model": 0.5, "photo": 0.4, "regions": 3.2, "holes": 0.0, "monte-carlo": 0.0}
    )
    with pytest.raises(
        InputTooLargeError, match=r"about 4\.1 GB of memory .* limit is 3\.0\."
    ) as raised:
        UNITS.check(job)
    assert "the regions" in raised.value.message and "closer together" in raised.value.message


def damaged_jpeg(side):
    """A JPEG whose header is whole and whose pixels are cut off after a few rows."""
    photo = np.random.default_rng(0).integers(0, 256, (side, side, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG")
    return buffer.getvalue()[:2000]


def test_the_budget_is_checked_before_decoding_and_before_the_network(tiny_model, monkeypatch):
    inpainter = Inpainter.load(tiny_model, threads=1, cost=UNITS)
    ran = []
    monkeypatch.setattr(inpainter.model, "predict", lambda *arguments: ran.append(1))
    holes = np.zeros((2000, 2000), bool)
    holes[:1500, :1500] = True  # 2.25 MP of hole: 22.5 s of synthesis alone
    with pytest.raises(InputTooLargeError) as raised:
        inpainter.inpaint(damaged_jpeg(2000), holes)
    assert raised.value.code == "over_cost_budget"
    assert not ran
    # Within the budget, the same photo is decoded, and found damaged.
    with pytest.raises(InvalidInputError) as raised:
        inpainter.inpaint(damaged_jpeg(2000), holes, fill="network")
    assert raised.value.code == "unreadable_image"


def test_monte_carlo_draws_count_against_the_budget(tiny_model):
    holes = np.zeros((640, 640), bool)
    holes[::64] = True  # a stroke across every row of tiles
    photo = np.zeros((640, 640, 3), np.uint8)
    probe = Inpainter.load(tiny_model, threads=1, cost=UNITS)
    plain = sum(
        UNITS.estimate(Job.of(holes, probe.plan(holes), samples=0, fill="network")).values()
    )
    drawn = sum(
        UNITS.estimate(Job.of(holes, probe.plan(holes), samples=16, fill="network")).values()
    )
    budget = UNITS.model_copy(update={"budget_seconds": (plain + drawn) / 2})
    inpainter = Inpainter.load(tiny_model, threads=1, cost=budget, validated_uncertainty_only=False)
    assert inpainter.inpaint(photo, holes, fill="network").strategy == "tile"
    with pytest.raises(InputTooLargeError, match="the network") as raised:
        inpainter.inpaint(photo, holes, fill="network", uncertainty="monte-carlo")
    assert raised.value.code == "over_cost_budget"


def test_measured_units_are_what_the_card_gives_back(tiny_model):
    # The median of three runs: the hole and region units are differences of a few tens of
    # milliseconds, which one run on a busy machine can turn negative (then clipped to 0).
    model = LiteRTModel.load(tiny_model, threads=1)
    cost = measure(model, side=1024, repeats=3, budget_seconds=30)
    assert 0.05 < cost.base_gb < 2 and cost.gb_per_megapixel > 0
    assert cost.gb_per_region_megapixel > 0 and cost.gb_per_monte_carlo_megapixel > 0
    assert cost.seconds_per_pass > 0 and cost.seconds_per_megapixel > 0
    assert cost.seconds_per_hole_megapixel > 0 and cost.seconds_per_region_megapixel > 0
    assert 0 < cost.head_share < 1  # the head is a fraction of the network
    section = CostSection(**cost.model_dump(), measured_on="here", photo_side=1024)
    assert CostModel.from_card(model.card.model_copy(update={"cost": section})) == cost
    assert CostModel.from_card(model.card.model_copy(update={"cost": None})) is None
