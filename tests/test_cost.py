"""A job's cost, estimated from the photo's header and the mask and refused over the
budget before the photo is decoded or the network runs."""

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from holefill import Inpainter
from holefill.errors import InputTooLargeError, InvalidInputError
from holefill.inference.cost import CostModel, measure
from holefill.inference.runtime import LiteRTModel

UNITS = CostModel(
    seconds_per_pass=0.5,
    head_share=0.1,
    seconds_per_hole_megapixel=10.0,
    seconds_per_megapixel=1.0,
    budget_seconds=20.0,
)


def test_the_estimate_adds_each_part_of_the_work():
    parts = UNITS.estimate(pixels=4e6, hole_pixels=5e5, passes=10, samples=0, fill="synthesis")
    assert parts == pytest.approx({"network": 5.0, "synthesis": 5.0, "photo": 4.0})
    drawn = UNITS.estimate(pixels=4e6, hole_pixels=5e5, passes=10, samples=16, fill="network")
    assert drawn == pytest.approx({"network": 13.0, "synthesis": 0.0, "photo": 4.0})


def test_a_job_over_the_budget_names_what_to_shrink():
    with pytest.raises(InputTooLargeError, match=r"about 32 s .* limit is 20 s") as raised:
        UNITS.check(pixels=2e6, hole_pixels=2.5e6, passes=10, samples=0, fill="synthesis")
    assert raised.value.code == "over_cost_budget"
    assert "synthesis" in raised.value.message and "fill=network" in raised.value.message
    assert UNITS.check(pixels=2e6, hole_pixels=2.5e6, passes=10, samples=0, fill="network")


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
    plain = sum(UNITS.estimate(**job(probe, holes, samples=0)).values())
    drawn = sum(UNITS.estimate(**job(probe, holes, samples=16)).values())
    budget = dataclasses.replace(UNITS, budget_seconds=(plain + drawn) / 2)
    inpainter = Inpainter.load(tiny_model, threads=1, cost=budget, validated_uncertainty_only=False)
    assert inpainter.inpaint(photo, holes, fill="network").strategy == "tile"
    with pytest.raises(InputTooLargeError, match="the network") as raised:
        inpainter.inpaint(photo, holes, fill="network", uncertainty="monte-carlo")
    assert raised.value.code == "over_cost_budget"


def job(inpainter, holes, samples):
    return {
        "pixels": holes.size,
        "hole_pixels": int(holes.sum()),
        "passes": inpainter.plan(holes).passes,
        "samples": samples,
        "fill": "network",
    }


def test_measured_units_are_what_the_card_gives_back(tiny_model):
    cost = measure(LiteRTModel.load(tiny_model, threads=1), side=256, repeats=1, budget_seconds=30)
    assert cost.seconds_per_pass > 0 and cost.seconds_per_megapixel > 0
    assert cost.seconds_per_hole_megapixel > 0
    assert 0 < cost.head_share < 1  # the head is a fraction of the network
    card = {"cost": {**dataclasses.asdict(cost), "measured_on": "here"}}
    assert CostModel.from_card(card) == cost
    assert CostModel.from_card({}) is None
