import dataclasses
import json

import numpy as np
import pytest

from holefill.evaluation import evaluate
from holefill.evaluation.baselines import telea
from holefill.evaluation.metrics import METRICS

SIZE = 32  # The smallest size LPIPS with AlexNet takes is 31.

# The "lpips" metric runs with random weights: these tests check the evaluation, not LPIPS.
pytestmark = pytest.mark.usefixtures("fake_pretrained_lpips")


@dataclasses.dataclass(frozen=True)
class FakeSample:
    name: str
    image: np.ndarray
    mask: np.ndarray
    bucket: int


def _samples() -> list[FakeSample]:
    """Five samples with a ~14 % hole (bucket 1) and three with a ~39 % hole (bucket 3)."""
    rng = np.random.default_rng(0)
    samples = []
    for index, (bucket, hole_height) in enumerate([(1, 9)] * 5 + [(3, 25)] * 3):
        image = rng.uniform(0.2, 0.8, (SIZE, SIZE, 3)).astype(np.float32)
        mask = np.ones((SIZE, SIZE, 1), np.float32)
        mask[4 : 4 + hole_height, 8:24] = 0.0
        samples.append(FakeSample(f"sample{index}", image, mask, bucket))
    return samples


def _oracle(samples):
    """A method that returns the ground truth, batch after batch, in the samples' order."""
    ground_truths = iter(sample.image for sample in samples)

    def predict(images, masks):
        return np.stack([next(ground_truths) for _ in images])

    return predict


def _zero_fill(images, masks):
    return images * masks


@pytest.fixture
def result():
    samples = _samples()
    return evaluate.evaluate(
        samples, {"oracle": _oracle(samples), "zero": _zero_fill}, batch_size=3, progress=False
    )


def test_evaluate_scores_per_bucket_and_overall(result):
    assert result.methods == ["oracle", "zero"]
    assert result.metrics == list(METRICS)
    assert result.buckets == ["(10%,20%]", "(30%,40%]"]
    assert result.counts == {"(10%,20%]": 5, "(30%,40%]": 3, "overall": 8}
    for row in result.rows:
        assert result.scores["psnr"]["oracle"][row] == 100.0
        assert result.scores["ssim"]["oracle"][row] == pytest.approx(1.0)
        assert result.scores["lpips"]["oracle"][row] == pytest.approx(0.0, abs=1e-6)
        assert result.scores["l1"]["oracle"][row] == 0.0
        assert result.scores["texture"]["oracle"][row] == pytest.approx(1.0)
        assert result.scores["texture"]["zero"][row] < 1.0
        for metric in METRICS:
            assert result.best_methods(metric, row) == ["oracle"]
    # Larger holes filled with zeros are worse.
    assert result.scores["l1"]["zero"]["(30%,40%]"] > result.scores["l1"]["zero"]["(10%,20%]"]


def test_methods_never_see_the_ground_truth_inside_the_hole():
    samples = _samples()
    seen = []

    def spy(images, masks):
        seen.append(images[masks[..., 0] == 0])
        return images

    evaluate.evaluate(samples, {"spy": spy}, progress=False)
    assert not np.concatenate(seen).any()


def test_save_writes_json_markdown_and_chart(result, tmp_path):
    result.save(tmp_path / "report")

    written = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert written == result.to_dict()
    assert written["scores"]["psnr"]["zero"]["overall"] < 100.0

    markdown = (tmp_path / "report" / "evaluation.md").read_text()
    for label in [
        *result.buckets,
        "overall",
        "oracle",
        "zero",
        "LPIPS (AlexNet), lower is better",
        "Texture ratio, closest to 1 is better",
    ]:
        assert label in markdown
    assert "**100.00**" in markdown  # the oracle's PSNR, best in its row

    assert (tmp_path / "report" / "evaluation.png").read_bytes().startswith(b"\x89PNG")


def test_beats_every_bucket(result):
    assert evaluate.beats_every_bucket(result, "oracle")
    pixel_metrics_only = evaluate.evaluate(
        _samples(), {"zero": _zero_fill, "copy": _zero_fill}, metrics=["l1"], progress=False
    )
    with pytest.raises(ValueError, match=r"Unknown metrics \['psnr', 'ssim', 'lpips'\]"):
        evaluate.beats_every_bucket(pixel_metrics_only, "zero")
    assert not evaluate.beats_every_bucket(result, "zero")
    assert evaluate.beats_every_bucket(result, "oracle", metrics=["l1"], first_bucket=3)
    with pytest.raises(ValueError, match="no bucket"):
        evaluate.beats_every_bucket(result, "oracle", first_bucket=4)
    with pytest.raises(ValueError, match="Unknown method"):
        evaluate.beats_every_bucket(result, "telea")


def _texture_result(scores):
    """A result with only the texture ratio, one bucket, and these overall scores."""
    return evaluate.EvaluationResult(
        methods=list(scores),
        metrics=["texture"],
        buckets=["(10%,20%]"],
        counts={"(10%,20%]": 1, "overall": 1},
        scores={"texture": {m: {"(10%,20%]": v, "overall": v} for m, v in scores.items()}},
        seconds_per_image=dict.fromkeys(scores, 0.0),
    )


def test_the_texture_ratio_closest_to_one_is_best():
    result = _texture_result({"blur": 0.7, "grainy": 1.2, "grainier": 1.25})
    assert result.best_methods("texture", "overall") == ["grainy"]
    assert "**1.20**" in result.to_markdown()
    assert evaluate.beats_every_bucket(result, "grainy", metrics=["texture"])
    assert not evaluate.beats_every_bucket(result, "grainier", metrics=["texture"])


def test_the_texture_ratio_leaves_out_truths_without_texture_in_the_hole():
    samples = _samples()
    # Flat truths in every sample of the (30%,40%] bucket and in one of (10%,20%].
    flattened = [
        dataclasses.replace(sample, image=np.full_like(sample.image, 0.5))
        if sample.bucket == 3 or index == 0
        else sample
        for index, sample in enumerate(samples)
    ]
    result = evaluate.evaluate(
        flattened, {"zero": _zero_fill}, metrics=["texture", "l1"], progress=False
    )
    defined = evaluate.evaluate(
        samples[1:5], {"zero": _zero_fill}, metrics=["texture"], progress=False
    )
    texture = result.scores["texture"]["zero"]
    assert (
        texture["(10%,20%]"] == texture["overall"] == defined.scores["texture"]["zero"]["overall"]
    )
    assert np.isnan(texture["(30%,40%]"])
    assert result.best_methods("texture", "(30%,40%]") == []
    assert not np.isnan(result.scores["l1"]["zero"]["(30%,40%]"])


def test_batched_adapts_a_per_image_method():
    samples = _samples()[:2]
    images = np.stack([sample.image * sample.mask for sample in samples])
    masks = np.stack([sample.mask for sample in samples])
    outputs = evaluate.batched(telea)(images, masks)
    assert outputs.shape == images.shape
    np.testing.assert_array_equal(outputs[1], telea(images[1], masks[1]))


def test_evaluate_computes_only_the_metrics_asked_for_in_their_order():
    result = evaluate.evaluate(
        _samples(), {"zero": _zero_fill}, metrics=["l1", "psnr"], progress=False
    )
    assert result.metrics == ["l1", "psnr"]
    assert list(result.scores) == ["l1", "psnr"]
    assert result.to_markdown().index("L1 (%)") < result.to_markdown().index("PSNR (dB)")
    with pytest.raises(ValueError, match="names from"):
        evaluate.evaluate(_samples(), {"zero": _zero_fill}, metrics=["fid"], progress=False)


def test_evaluate_rejects_bad_buckets_and_output_shapes():
    samples = _samples()
    with pytest.raises(ValueError, match="buckets must lie in"):
        evaluate.evaluate(
            [dataclasses.replace(samples[0], bucket=6)], {"zero": _zero_fill}, progress=False
        )
    with pytest.raises(ValueError, match="returned shape"):
        evaluate.evaluate(samples, {"crop": lambda images, masks: images[:, 1:]}, progress=False)


def _grey_samples():
    """`_samples` with a uniform grey truth, which the noisy draws below centre on."""
    return [
        dataclasses.replace(sample, image=np.full_like(sample.image, 0.5)) for sample in _samples()
    ]


def _noisy_draws(error_follows_spread, seed=0):
    """A stochastic method around the grey truth whose draws spread by a ramp across each
    image, and whose error (the mean's offset from the truth) follows that ramp or is flat."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.01, 0.2, SIZE, dtype=np.float32)[None, :, None]
    offset = ramp if error_follows_spread else 0.1

    def draw(images, masks):
        noise = rng.standard_normal(images.shape).astype(np.float32) * ramp
        return 0.5 + offset + noise

    return draw


def test_uncertainty_spearman_is_high_when_the_spread_tracks_the_error():
    samples = _grey_samples()
    tracking = evaluate.evaluate_uncertainty(
        samples, _noisy_draws(True), draws=8, batch_size=3, progress=False
    )
    flat = evaluate.evaluate_uncertainty(
        samples, _noisy_draws(False), draws=8, batch_size=3, progress=False
    )
    assert tracking.rows == ["(10%,20%]", "(30%,40%]", "overall"]
    assert tracking.counts == {"(10%,20%]": 5, "(30%,40%]": 3, "overall": 8}
    hole_pixels = sum(int((sample.mask < 0.5).sum()) for sample in samples)
    assert tracking.pixels["overall"] == hole_pixels
    assert tracking.spearman["overall"] > 0.5
    assert abs(flat.spearman["overall"]) < tracking.spearman["overall"] - 0.3
    assert "| overall | 8 |" in tracking.to_markdown()


def test_uncertainty_draws_a_bounded_number_of_pixels_and_checks_its_arguments():
    samples = _grey_samples()
    result = evaluate.evaluate_uncertainty(
        samples, _noisy_draws(True), draws=8, pixels_per_image=10, progress=False
    )
    assert result.pixels["overall"] == 10 * len(samples)
    with pytest.raises(ValueError, match="at least 2"):
        evaluate.evaluate_uncertainty(samples, _zero_fill, draws=1)
    with pytest.raises(ValueError, match="at least one sample"):
        evaluate.evaluate_uncertainty([], _zero_fill)
