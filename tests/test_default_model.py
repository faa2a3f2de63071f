"""The shipped default model (`models/default`): its size, its card, and a regression guard
against OpenCV's Telea on photos that scikit-image ships.

The guard is not the benchmark (that is `holefill evaluate` on the validation set, whose
tables the card holds): it catches a broken export, a wrong mask convention or a model
that lost its training, on data that is always here.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from holefill import Inpainter
from holefill.card import CARD_FORMAT_VERSION, CARD_NAME, read_card, write_card
from holefill.evaluation.baselines import telea
from holefill.masks.generator import MaskGenerator

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "default"
# Colour photos of scenes and objects, as users upload, not test charts.
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SIZE = 256
MASKS_PER_PHOTO = 3


@pytest.fixture(scope="module")
def card():
    return read_card(DEFAULT_MODEL)


def test_shipped_model_stays_light_to_clone():
    total = sum(path.stat().st_size for path in DEFAULT_MODEL.rglob("*") if path.is_file())
    assert total <= 20 * 2**20, f"models/default holds {total / 2**20:.1f} MiB, over 20 MiB"


def test_the_shipped_card_reads_as_a_model_card_and_writes_back_as_it_was(card, tmp_path):
    write_card(tmp_path, card)
    assert json.loads((tmp_path / CARD_NAME).read_text()) == json.loads(
        (DEFAULT_MODEL / CARD_NAME).read_text()
    )
    assert card.format_version == CARD_FORMAT_VERSION
    shipped = json.loads((DEFAULT_MODEL / CARD_NAME).read_text())
    (tmp_path / CARD_NAME).write_text(json.dumps({**shipped, "tile": 512}))
    with pytest.raises(
        ValueError,
        match="not a model card this Holefill reads: tile: Extra inputs are not permitted",
    ):
        read_card(tmp_path)


def test_card_records_training_data_terms_and_evaluation(card):
    stages = [stage["stage"] for stage in card.training["stages"]]
    assert stages[0] == "train" and set(stages[1:]) == {"finetune"}, stages
    assert all(stage["step"] > 0 for stage in card.training["stages"])
    assert "research" in card.training["data"]["terms"].lower()
    assert card.training["hardware"]
    assert card.monte_carlo is not None, "the default model must support uncertainty maps"
    # The budget of the default-model issue: at most 20 GFLOP per 512 px image.
    assert card.tile_size == 512 and card.gflop_per_tile <= 20
    for size in ("256", "512"):
        evaluation = card.evaluation[size]
        assert evaluation["counts"]["overall"] == 480
        assert {"telea", "ns", "biharmonic", "holefill"} <= set(evaluation["methods"])
        assert isinstance(evaluation["quality_bar"], bool)
    assert -1 <= card.evaluation["256"]["uncertainty"]["spearman"]["overall"] <= 1
    assert card.recorded


def centre_square(photo):
    image = Image.fromarray(photo).convert("RGB")
    scale = SIZE / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    left, top = (image.width - SIZE) // 2, (image.height - SIZE) // 2
    return np.asarray(image.crop((left, top, left + SIZE, top + SIZE)))


def test_beats_telea_inside_generated_holes():
    """On the squared error inside the holes (PSNR, the first metric of the quality bar)."""
    inpainter = Inpainter.load(DEFAULT_MODEL, threads=2, mask_dilation=0)
    masks = MaskGenerator(seed=0)
    model_errors, telea_errors = [], []
    for name in PHOTOS:
        photo = centre_square(getattr(skimage_data, name)())
        truth = photo.astype(np.float32) / 255.0
        for _ in range(MASKS_PER_PHOTO):
            known = masks.irregular(SIZE, SIZE, hole_ratio=(0.2, 0.3))
            holes = known[..., 0] < 0.5
            filled = np.asarray(inpainter.inpaint(photo, holes).image, np.float32) / 255.0
            classical = telea(truth * known, known)
            model_errors.append(np.square(filled - truth)[holes].mean())
            telea_errors.append(np.square(classical - truth)[holes].mean())
    model_error, telea_error = np.mean(model_errors), np.mean(telea_errors)
    assert model_error < telea_error, (
        f"mean squared error inside the holes: model {model_error:.5f}, Telea {telea_error:.5f}"
    )


def test_card_offers_the_error_map_that_passed_and_withholds_the_dropout_spread(card):
    from holefill.inference.uncertainty import judge

    section = card.uncertainty
    assert section.default == "error-map"
    for method, described in section.methods.items():
        validation = described.validation
        assert validation["samples"] == 480 and validation["size"] == 256, method
        assert (described.offered, described.why) == judge(validation), method
    assert section.methods["error-map"].offered
    assert not section.methods["monte-carlo"].offered
    assert "val" not in section.methods["error-map"].fitted_on["photos"]


def test_the_error_map_ranks_the_error_on_photos_it_never_saw():
    """On scikit-image's photos with object-shaped holes, as a user paints them."""
    from scipy.stats import spearmanr

    inpainter = Inpainter.load(DEFAULT_MODEL, threads=2, mask_dilation=0)
    masks = MaskGenerator(seed=0)
    correlations = []
    for name in PHOTOS:
        photo = centre_square(getattr(skimage_data, name)())
        holes = masks.region(SIZE, SIZE, hole_ratio=(0.1, 0.3))[..., 0] < 0.5
        result = inpainter.inpaint(photo, holes, uncertainty="auto")
        error = np.abs(np.asarray(result.image, np.float32) - photo).mean(axis=2) / 255.0
        assert result.uncertainty.method == "error-map"
        correlations.append(spearmanr(result.uncertainty.values[holes], error[holes]).statistic)
    assert np.mean(correlations) > 0.4, correlations


def test_card_records_the_fill_that_serving_runs(card):
    from holefill.inference.synthesis import fill_record

    assert card.fill.model_dump() == json.loads(json.dumps(fill_record()))
    assert card.fill.default == "synthesis"


def test_card_prices_a_phone_photo_within_its_budgets(card):
    """`holefill measure-cost` measured the units: a 12 MP photo with an object of 5% and
    a 50 MP photo under a grid of strokes (worked on in pieces) are both served."""
    from holefill.inference.cost import CostModel, Job
    from holefill.inference.strategies import plan

    cost = CostModel.from_card(card)
    assert card.cost.measured_on
    phone = np.zeros((3000, 4000), bool)
    phone[1200:1800, 1600:2400] = True  # 4% of the photo
    job = Job.of(phone, plan(phone, card.tile_size), samples=0, fill="synthesis")
    assert sum(cost.check(job).values()) < cost.budget_seconds / 4
    grid = np.zeros((5773, 8660), bool)
    grid[125::250] = grid[:, 125::250] = True
    job = Job.of(grid, plan(grid, card.tile_size), samples=0, fill="synthesis")
    assert sum(cost.check(job).values()) < cost.budget_seconds
    assert sum(cost.estimate_gb(job).values()) < SMALL_LAMBDA_JOB_GB


# What the InpaintFunction leaves a job at 3,008 MB, a new account's largest memory size:
# 85% of it (the handler's memory budget).
SMALL_LAMBDA_JOB_GB = 0.85 * 3.008


def test_the_stack_deploys_at_a_new_accounts_memory_cap():
    import re

    template = (Path(__file__).resolve().parents[1] / "template.yaml").read_text()
    parameter = re.search(r"\n  InpaintMemorySize:\n((?:    .*\n)+)", template).group(1)
    assert int(re.search(r"MinValue: (\d+)", parameter).group(1)) <= 3008


@pytest.mark.slow
def test_a_50_megapixel_stroke_grid_runs_within_a_small_lambdas_memory():
    """50 MP under a grid of strokes, JPEG to JPEG with the error map, in a fresh process
    (`bench/cost.py`'s job): its peak resident memory is within the card's estimate and
    what a 3,008 MB InpaintFunction leaves a job (it was 8.3 GB before the photo was
    worked on in pieces)."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "cost.py"
    child = subprocess.run(
        [sys.executable, str(bench), "--model", str(DEFAULT_MODEL), "--child", "50 MP stroke grid"],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    job = json.loads(child.stdout.splitlines()[-1])
    assert job["served"] == "yes"
    assert job["peak_gb"] <= 1.2 * sum(job["estimate_gb"].values())
    assert job["peak_gb"] < SMALL_LAMBDA_JOB_GB
