"""Uncertainty maps: the bar a map must pass, the heat map, and the card section that the
calibration writes from measured fills."""

import io

import numpy as np
import pytest
from PIL import Image

from holefill.evaluation.uncertainty_calibration import Measurements, uncertainty_section, validate
from holefill.inference.uncertainty import (
    FULL_SCALES,
    OVERALL,
    MonteCarloUncertainty,
    Uncertainty,
    judge,
)
from holefill.masks.buckets import HOLE_RATIO_BUCKETS

LABELS = [bucket.label for bucket in HOLE_RATIO_BUCKETS]


def validation(overall=0.6, worst=0.45, rmse=None):
    spearman = {label: 0.6 for label in LABELS}
    spearman[LABELS[-1]] = worst
    spearman[OVERALL] = overall
    rmse = rmse or [0.01 * (decile + 1) for decile in range(10)]
    return {"spearman": spearman, "reliability": [{"rmse": value} for value in rmse]}


def test_judge_names_every_reason_a_map_misses_the_bar():
    offered, why = judge(validation())
    assert offered and why.startswith("offered") and "0.450 in every bucket" in why
    offered, why = judge(validation(overall=0.49, worst=0.39, rmse=[0.1, 0.2, 0.15, 0.3]))
    assert not offered
    assert "0.490 overall, under 0.5" in why
    assert f"0.390 in the {LABELS[-1]} bucket, under 0.4" in why
    assert "falls after decile 2" in why


def test_heatmap_colours_the_holes_and_leaves_the_rest_transparent():
    holes = np.zeros((4, 6), bool)
    holes[1:3, 1:5] = True
    values = np.zeros((4, 6), np.float32)
    values[1, 1:5] = [0.0, 0.1, 0.2, 0.5]
    map_ = Uncertainty("error-map", values, holes, FULL_SCALES["error-map"])
    heatmap = np.asarray(Image.open(io.BytesIO(map_.heatmap_png())))
    assert heatmap.shape == (4, 6, 4)
    np.testing.assert_array_equal(heatmap[..., 3] == 255, holes)
    np.testing.assert_array_equal(heatmap[..., 3][~holes], 0)
    black, middle, top, beyond = heatmap[1, 1:5, :3].astype(int)
    assert black.max() < 10, "0 is black, even on a hole"
    assert (top == beyond).all() and top[0] > 240 and top[1] > 240, "full scale is yellow"
    assert 0 < middle.sum() < top.sum()
    assert "expected absolute error" in map_.unit


def test_the_data_png_holds_the_values_in_16_bits():
    holes = np.zeros((4, 6), bool)
    holes[1:3, 1:5] = True
    values = np.zeros((4, 6), np.float32)
    values[1, 1:5] = [0.0, 0.1234, 0.5, 1.5]
    data = Image.open(io.BytesIO(Uncertainty("error-map", values, holes, 0.2).data_png()))
    assert data.format == "PNG" and data.mode.startswith("I;16")
    levels = np.asarray(data).astype(np.float64) / 65535
    np.testing.assert_allclose(levels[1, 1:4], [0.0, 0.1234, 0.5], atol=1 / 65535)
    assert levels[1, 4] == 1.0, "a value past the whole range is clipped to it"
    assert (levels[~holes] == 0).all()


def test_monte_carlo_moments():
    holes = np.array([[True, False]])
    mean = np.array([[[0.5, 0.5, 0.5], [0.2, 0.2, 0.2]]])
    mean_square = mean**2 + np.array([[[0.01], [0.0]]])
    map_ = MonteCarloUncertainty.from_moments(mean, mean_square, holes, samples=5)
    np.testing.assert_allclose(map_.std, [[np.sqrt(0.01 * 5 / 4), 0.0]], rtol=1e-5)
    assert map_.method == "monte-carlo" and map_.full_scale == FULL_SCALES["monte-carlo"]
    with pytest.raises(ValueError, match="at least 2 samples"):
        MonteCarloUncertainty.from_moments(mean, mean_square, holes, samples=1)


def test_validate_a_perfect_ranking():
    rng = np.random.default_rng(0)
    errors = rng.uniform(0, 0.3, 6000)
    buckets = np.repeat(np.arange(6), 1000)
    result = validate(errors * 2 + 0.01, errors, buckets)
    assert result["pixels"] == 6000
    assert all(value == pytest.approx(1.0) for value in result["spearman"].values())
    assert set(result["spearman"]) == {*LABELS, OVERALL}
    rmse = [row["rmse"] for row in result["reliability"]]
    assert rmse == sorted(rmse) and len(rmse) == 10


def measurements(rng, pixels, with_spread):
    """Features of which the error is a noisy log-linear function; a spread unrelated to it."""
    features = rng.uniform(0.01, 1.0, (4, pixels))
    errors = 0.05 * features[0] ** 0.8 * features[2] ** 0.5 * np.exp(rng.normal(0, 0.2, pixels))
    return Measurements(
        features=features,
        errors=errors,
        spread=rng.uniform(0, 0.1, pixels) if with_spread else None,
        buckets=np.arange(pixels) % 6,
        seconds={"fill": 0.4, "error_map": 0.2, "monte_carlo": 1.3},
    )


def test_the_section_offers_the_map_that_ranks_the_error_and_says_why_not_the_other():
    rng = np.random.default_rng(1)
    sets = {"fitted_on": {"photos": "fit"}, "validation": {"set": "val", "samples": 60}}
    section, error_map = uncertainty_section(
        measurements(rng, 12000, False),
        measurements(rng, 12000, True),
        draws=16,
        described_sets=sets,
    )
    methods = section["methods"]
    assert section["default"] == "error-map"
    assert methods["error-map"]["offered"] and methods["error-map"]["validation"]["set"] == "val"
    assert methods["error-map"]["validation"]["spearman"][OVERALL] > 0.8
    assert methods["error-map"]["error_map"] == error_map.to_dict()
    assert methods["error-map"]["fitted_on"] == {"photos": "fit"}
    assert not methods["monte-carlo"]["offered"] and "under 0.5" in methods["monte-carlo"]["why"]
    assert methods["monte-carlo"]["samples"] == 16
    with pytest.raises(ValueError, match="Monte-Carlo draws"):
        uncertainty_section(
            measurements(rng, 100, False),
            measurements(rng, 100, False),
            draws=16,
            described_sets=sets,
        )


def test_the_service_offers_the_library_choices():
    from holefill.inference.uncertainty import CHOICES
    from holefill_service.jobs import UNCERTAINTY_CHOICES

    assert UNCERTAINTY_CHOICES == CHOICES
