"""Serving with an exported model: the runtime against Keras, `Inpainter`, and `predict`.

One tiny untrained model is exported per session (TensorFlow backend: LiteRT conversion
needs it); serving itself must not import TensorFlow or Keras.
"""

import io
import json
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image, ImageCms

from holefill import Inpainter
from holefill.card import CARD_FORMAT_VERSION, CARD_NAME
from holefill.cli import main
from holefill.errors import InvalidInputError
from holefill.imaging.masks import read_mask
from holefill.imaging.photos import read_photo
from holefill.inference.inpainter import DEFAULT_MASK_DILATION
from holefill.inference.runtime import LiteRTModel, fill_keep_mask
from holefill.masks.generator import MaskGenerator
from holefill.nn.config import PConvUNetConfig

TILE = 32
# Two dropout layers (the default is 1): a head of several layers at two strides, whose
# windows need a margin and an alignment, the harder case for the runtime.
CONFIG = PConvUNetConfig(image_size=TILE, depth=3, width=0.125, dropout_rate=0.2, dropout_layers=2)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exporting to LiteRT needs KERAS_BACKEND=tensorflow")
    from holefill.export.litert import export_untrained_model

    folder = tmp_path_factory.mktemp("model")
    export_untrained_model(CONFIG, folder, check_samples=2)
    return folder


@pytest.fixture(scope="session")
def one_dropout_model_dir(tmp_path_factory):
    """The default `dropout_layers` (1): the head is the last partial convolution alone."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exporting to LiteRT needs KERAS_BACKEND=tensorflow")
    from holefill.export.litert import export_untrained_model

    config = PConvUNetConfig(image_size=TILE, depth=3, width=0.125, dropout_rate=0.2)
    assert config.dropout_layers == 1
    folder = tmp_path_factory.mktemp("model-one-dropout")
    export_untrained_model(config, folder, check_samples=2)
    return folder


@pytest.fixture(scope="session")
def model_without_dropout(model_dir, tmp_path_factory):
    """The same model with its Monte-Carlo part taken out of the card."""
    folder = tmp_path_factory.mktemp("plain-model")
    for path in model_dir.iterdir():
        shutil.copy(path, folder)
    card = json.loads((folder / CARD_NAME).read_text())
    card["monte_carlo"] = None
    (folder / CARD_NAME).write_text(json.dumps(card))
    return folder


@pytest.fixture(scope="session")
def inpainter(model_dir):
    """Runs any uncertainty method the model can: its card has validated none."""
    return Inpainter.load(model_dir, threads=1, validated_uncertainty_only=False)


def photo(height=40, width=56, channels=3):
    rows, columns = np.mgrid[0:height, 0:width]
    planes = [(rows * 5 + columns * 3 + 50 * channel) % 256 for channel in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def hole_mask(height=40, width=56):
    """A white-on-black mask file: a block and a stroke."""
    values = np.zeros((height, width), np.uint8)
    values[10:18, 12:22] = 255
    values[30, 5:50] = 255
    return encode(Image.fromarray(values), "PNG")


def holes_of(size):
    """The holes `Inpainter` makes of `hole_mask()`: with its default dilation."""
    return read_mask(hole_mask(), size, dilation=DEFAULT_MASK_DILATION)


def encode(image, format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def test_card_describes_every_graph(model_dir):
    card = json.loads((model_dir / CARD_NAME).read_text())
    assert card["format_version"] == CARD_FORMAT_VERSION
    assert card["tile_size"] == TILE and card["dropout_rate"] == 0.2
    assert card["config"] == CONFIG.to_dict() and card["holefill_version"]
    for name in card["files"].values():
        assert (model_dir / name).is_file()
    monte_carlo = card["monte_carlo"]
    assert monte_carlo["crop_margin"] == 4 and monte_carlo["crop_alignment"] == 2
    assert monte_carlo["gflop_head_per_sample"] < monte_carlo["gflop_trunk"]
    assert card["export_check"]["monte_carlo_max_abs_difference"] < 1e-3


def test_a_format_2_card_is_a_pconv_and_an_unknown_architecture_is_refused(model_dir, tmp_path):
    card = json.loads((model_dir / CARD_NAME).read_text())
    assert card["architecture"] == "pconv"
    for name in card["files"].values():
        shutil.copy(model_dir / name, tmp_path)
    (tmp_path / CARD_NAME).write_text(
        json.dumps({**card, "format_version": 2, "architecture": "pconv_unet"})
    )
    assert LiteRTModel.load(tmp_path).architecture == "pconv"
    (tmp_path / CARD_NAME).write_text(json.dumps({**card, "architecture": "diffusion"}))
    with pytest.raises(ValueError, match="architecture this Holefill does not know"):
        Inpainter.load(tmp_path)


def test_runtime_matches_keras(model_dir):
    from holefill.export.litert import load_generator

    reference, _ = load_generator(model_dir, input_size=TILE)
    runtime = LiteRTModel.load(model_dir, threads=2)
    rng = np.random.default_rng(0)
    image = rng.random((TILE, TILE, 3), dtype=np.float32)
    known = MaskGenerator(0).sample(TILE, TILE)
    expected = keras.ops.convert_to_numpy(
        reference({"image": (image * known)[None], "mask": known[None]})
    )[0]
    np.testing.assert_allclose(runtime.predict(image, known), expected, atol=1e-3)

    deterministic, mean, mean_square = runtime.monte_carlo(image, known, 8, rng)
    holes = known[..., 0] == 0
    # The head with keep masks of ones, on a crop, is the deterministic network.
    np.testing.assert_allclose(deterministic[holes], expected[holes], atol=1e-3)
    assert (mean_square >= np.square(mean) - 1e-6).all()


def one_block_hole():
    known = np.ones((TILE, TILE, 1), np.float32)
    known[8:20, 10:24] = 0
    return known


def corner_holes():
    """Two holes far apart: cheaper as two windows than as one crop around both."""
    known = np.ones((TILE, TILE, 1), np.float32)
    known[2:6, 1:5] = 0
    known[26:29, 27:31] = 0
    return known


@pytest.mark.parametrize(
    ("model_fixture", "holes", "windows"),
    [("model_dir", one_block_hole, 1), ("one_dropout_model_dir", corner_holes, 2)],
)
def test_monte_carlo_matches_keras_dropout_statistics(request, model_fixture, holes, windows):
    from holefill.export.litert import load_generator

    model_dir = request.getfixturevalue(model_fixture)
    samples = 300
    reference, _ = load_generator(model_dir, monte_carlo=True, input_size=TILE)
    runtime = LiteRTModel.load(model_dir)
    image = np.random.default_rng(1).random((TILE, TILE, 3), dtype=np.float32)
    known = holes()
    assert len(runtime._head_windows(known[..., 0])) == windows
    inputs = {"image": np.repeat((image * known)[None], samples, 0)}
    inputs["mask"] = np.repeat(known[None], samples, 0)
    expected = np.clip(keras.ops.convert_to_numpy(reference(inputs)), 0, 1)
    deterministic, mean, mean_square = runtime.monte_carlo(
        image, known, samples, np.random.default_rng(2)
    )
    holes = known[..., 0] == 0
    plain, _ = load_generator(model_dir, input_size=TILE)
    exact = keras.ops.convert_to_numpy(plain({"image": inputs["image"][:1], "mask": known[None]}))
    np.testing.assert_allclose(deterministic[holes], exact[0][holes], atol=1e-3)
    spread = expected.std(axis=0)[holes]
    std = np.sqrt(np.maximum(mean_square - np.square(mean), 0))[holes]
    varying = spread > 1e-3
    assert varying.mean() > 0.2
    mean_error = np.abs(mean[holes] - expected.mean(axis=0)[holes])[varying]
    assert mean_error.mean() < 0.2 * spread[varying].mean()
    assert 0.85 < np.median(std[varying] / spread[varying]) < 1.15


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.7])
def test_keep_masks_are_keras_dropout_masks(rate):
    """Independent Bernoulli(1 - rate) / (1 - rate) per element, as Keras `Dropout` draws."""
    masks = fill_keep_mask(np.empty((64, 64, 64, 8), np.float32), rate, np.random.default_rng(0))
    scale = np.float32(1 / (1 - rate))
    assert set(np.unique(masks)) == {0.0, scale}
    kept = masks > 0
    # 2 M draws: the standard error of the kept fraction is below 3.3e-4.
    assert abs(kept.mean() - (1 - rate)) < 1.5e-3
    assert abs(masks.mean() - 1.0) < 3e-3  # Dropout keeps the expectation
    # Channels of a pixel and neighbouring pixels are independent (not spatial dropout).
    for first, second in [(kept[..., 0], kept[..., 1]), (kept[:, :, :-1], kept[:, :, 1:])]:
        assert abs(np.corrcoef(first.ravel(), second.ravel())[0, 1]) < 0.01


@pytest.mark.parametrize("strategy", ["auto", "crop", "tile", "resize"])
def test_whole_photo_matches_keras(inpainter, model_dir, strategy):
    from holefill.export.litert import load_generator
    from holefill.inference import strategies
    from holefill.inference.seams import blend_seams
    from holefill.inference.synthesis import synthesize

    reference, _ = load_generator(model_dir, input_size=TILE)

    def keras_tile(image, known):
        inputs = {"image": (image * known)[None], "mask": known[None]}
        return keras.ops.convert_to_numpy(reference(inputs))[0]

    result = inpainter.inpaint(photo(), hole_mask(), strategy=strategy, fill="network")
    holes = holes_of((40, 56))
    filled, _ = strategies.inpaint(photo(), holes, keras_tile, TILE, 3, result.strategy)
    network = blend_seams(photo(), holes, scattered(filled, holes))
    expected = np.round(np.clip(network[holes], 0, 1) * 255)
    assert np.abs(result.image[holes] - expected).max() <= 1
    np.testing.assert_array_equal(result.image[~holes], photo()[~holes])
    # The default fill is the synthesis guided by the network's fill, without the seams.
    synthesised = inpainter.inpaint(photo(), hole_mask(), strategy=strategy)
    guide, _ = strategies.inpaint(photo(), holes, inpainter.model.predict, TILE, 3, result.strategy)
    guide = scattered(guide, holes)
    expected = np.zeros(guide.shape, np.float32)
    # A photo this small has regions that do not overlap: each owns its holes alone.
    for region in inpainter.plan(holes, strategy).regions:
        window, own = region.window, region.own_holes
        colour = strategies.unit_float(photo()[window])
        part = synthesize(colour, holes[window], guide[window], extent=holes.shape)
        expected[window][own] = part[own]
    expected = np.round(np.clip(expected[holes], 0, 1) * 255)
    np.testing.assert_array_equal(synthesised.image[holes], expected)
    np.testing.assert_array_equal(synthesised.image[~holes], photo()[~holes])


def scattered(values, holes):
    """Values of the hole pixels `(holes, C)` at their places in the photo, 0 elsewhere."""
    photo = np.zeros((*holes.shape, values.shape[1]), np.float32)
    photo[holes] = values
    return photo


def test_jpeg_with_orientation_and_icc(inpainter, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Holefill"
    source = encode(Image.fromarray(photo(56, 40)), "JPEG", exif=exif, icc_profile=SRGB)
    result = inpainter.inpaint(source, hole_mask())
    assert result.image.size == (56, 40) and result.photo.format == "JPEG"
    original = read_photo(source)
    holes = holes_of(original.size)
    np.testing.assert_array_equal(result.photo.pixels[~holes], original.pixels[~holes])
    path = result.save(tmp_path / "filled.jpg")
    written = Image.open(path)
    assert written.format == "JPEG" and written.size == (56, 40)
    assert written.info["icc_profile"] == SRGB
    assert written.getexif()[0x010F] == "Holefill" and 0x0112 not in written.getexif()


@pytest.mark.parametrize(
    ("image", "format"),
    [
        (Image.fromarray(photo(channels=4)), "PNG"),
        (Image.fromarray(photo()).quantize(32), "PNG"),
        (Image.fromarray(photo()[..., 0]), "PNG"),
        (Image.fromarray(photo()[..., 0].astype(np.uint16) * 257), "PNG"),
        (Image.fromarray(photo()), "WEBP"),
        (Image.fromarray(photo()), "BMP"),
        (Image.fromarray(photo()), "TIFF"),
    ],
    ids=["rgba", "palette", "gray", "gray16", "webp", "bmp", "tiff"],
)
def test_every_kind_of_file_keeps_its_known_pixels(inpainter, image, format):
    source = encode(image, format, **({"lossless": True} if format == "WEBP" else {}))
    original = read_photo(source)
    result = inpainter.inpaint(source, hole_mask())
    assert result.photo.mode == original.mode
    written = read_photo(result.encode())
    assert written.mode == original.mode and written.format == format
    np.testing.assert_array_equal(written.pixels, result.photo.pixels)
    changed = np.any(written.pixels != original.pixels, axis=2)
    assert not changed[~holes_of(original.size)].any(), "known pixels: the input's, bit for bit"
    if original.alpha is not None:
        np.testing.assert_array_equal(written.alpha, original.alpha)


def test_arrays_and_pil_images_come_back_as_they_came(inpainter):
    array = photo().astype(np.float32) / 255
    result = inpainter.inpaint(array, np.asarray(Image.open(io.BytesIO(hole_mask()))) > 0)
    assert result.image.dtype == np.float32 and result.image.shape == array.shape
    image = Image.fromarray(photo(channels=4))
    assert inpainter.inpaint(image, hole_mask()).image.mode == "RGBA"


def test_empty_mask_returns_the_photo_without_running_the_network(inpainter, monkeypatch):
    def no_network(*arguments):
        raise AssertionError("the network must not run")

    monkeypatch.setattr(inpainter.model, "predict", no_network)
    monkeypatch.setattr(inpainter.model, "monte_carlo", no_network)
    empty = np.zeros((40, 56), bool)
    result = inpainter.inpaint(photo(), empty, uncertainty="monte-carlo", uncertainty_samples=4)
    assert result.strategy == "none"
    np.testing.assert_array_equal(result.image, photo())
    assert (result.uncertainty.std == 0).all()


def test_all_hole_mask_and_bad_options(inpainter, model_without_dropout):
    full = np.ones((40, 56), bool)
    with pytest.raises(InvalidInputError) as raised:
        inpainter.inpaint(photo(), full)
    assert raised.value.code == "all_hole_mask"
    with pytest.raises(InvalidInputError, match="strategy"):
        inpainter.inpaint(photo(), hole_mask(), strategy="magic")
    with pytest.raises(InvalidInputError, match="synthesis, network") as raised:
        inpainter.inpaint(photo(), hole_mask(), fill="diffusion")
    assert raised.value.code == "invalid_fill"
    for options in (
        {"uncertainty": "monte-carlo", "uncertainty_samples": 1},
        {"uncertainty": "monte-carlo", "uncertainty_samples": 33},
        {"uncertainty_samples": 8},
        {"uncertainty": "error-map", "uncertainty_samples": 8},
    ):
        with pytest.raises(InvalidInputError) as raised:
            inpainter.inpaint(photo(), hole_mask(), **options)
        assert raised.value.code == "invalid_uncertainty_samples", options
    with pytest.raises(InvalidInputError, match="one of auto, none") as raised:
        inpainter.inpaint(photo(), hole_mask(), uncertainty="guess")
    assert raised.value.code == "invalid_uncertainty"
    plain = Inpainter.load(model_without_dropout, validated_uncertainty_only=False)
    with pytest.raises(ValueError, match="without dropout") as raised:
        plain.inpaint(photo(), hole_mask(), uncertainty="monte-carlo")
    assert raised.value.code == "uncertainty_unavailable"
    with pytest.raises(ValueError, match="no fitted error map") as raised:
        plain.inpaint(photo(), hole_mask(), uncertainty="error-map")
    assert raised.value.code == "uncertainty_unavailable"
    with pytest.raises(ValueError, match="threads"):
        Inpainter.load(model_without_dropout, threads=0)


def test_monte_carlo_uncertainty(inpainter):
    options = {"uncertainty": "monte-carlo", "uncertainty_samples": 16, "seed": 0}
    result = inpainter.inpaint(photo(), hole_mask(), **options)
    uncertainty = result.uncertainty
    holes = holes_of((40, 56))
    assert uncertainty.method == "monte-carlo" and uncertainty.samples == 16
    assert uncertainty.std.shape == (40, 56)
    assert (uncertainty.std[~holes] == 0).all() and uncertainty.std[holes].max() > 0
    lower, upper = uncertainty.interval
    assert (lower <= uncertainty.mean + 1e-6).all() and (uncertainty.mean <= upper + 1e-6).all()
    heatmap = np.asarray(Image.open(io.BytesIO(uncertainty.heatmap_png())))
    assert heatmap.shape == (40, 56, 4)
    np.testing.assert_array_equal(heatmap[..., 3] > 0, holes)
    again = inpainter.inpaint(photo(), hole_mask(), **options)
    np.testing.assert_array_equal(again.uncertainty.std, uncertainty.std)
    # The result is the deterministic network's, whether or not uncertainty is asked for.
    np.testing.assert_array_equal(result.image, inpainter.inpaint(photo(), hole_mask()).image)


def test_serving_imports_neither_tensorflow_nor_keras(model_dir, tmp_path):
    mask_path = tmp_path / "mask.png"
    mask_path.write_bytes(hole_mask())
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import holefill
        assert "holefill.inference.inpainter" not in sys.modules, "Inpainter loads lazily"
        inpainter = holefill.Inpainter.load({str(model_dir)!r}, validated_uncertainty_only=False)
        image = np.zeros((40, 56, 3), np.uint8)
        inpainter.inpaint(image, {str(mask_path)!r}, uncertainty="monte-carlo").image
        heavy = {{name.split(".")[0] for name in sys.modules}} & {{"tensorflow", "keras", "jax"}}
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_cli_predict_folders(model_dir, tmp_path, capsys):
    photos, masks, output = tmp_path / "photos", tmp_path / "masks", tmp_path / "out"
    photos.mkdir()
    masks.mkdir()
    Image.fromarray(photo()).save(photos / "good.png")
    Image.fromarray(photo()).save(photos / "unmasked.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    for name in ("good", "broken"):
        (masks / f"{name}.png").write_bytes(hole_mask())
    arguments = ["predict", str(photos), "--mask", str(masks), "-o", str(output)]
    assert main([*arguments, "--model", str(model_dir)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert any("broken.jpg" in line for line in errors)
    assert any("unmasked.png" in line and "no mask" in line for line in errors)
    assert (output / "good.png").is_file()
    assert not (output / "good.uncertainty.png").exists()


def test_calibrate_then_predict_with_the_offered_map(model_dir, tmp_path, capsys):
    from skimage import data as skimage_data

    from holefill.inference.uncertainty import judge

    calibrated = tmp_path / "model"
    shutil.copytree(model_dir, calibrated)
    fit, validation, masks = (tmp_path / name for name in ("fit", "val", "masks"))
    for folder, names in ((fit, ("astronaut", "coffee")), (validation, ("chelsea", "rocket"))):
        folder.mkdir()
        for name in names:
            Image.fromarray(getattr(skimage_data, name)()).save(folder / f"{name}.png")
    masks.mkdir()
    for bucket in range(6):  # NVIDIA-style names: the index says the bucket
        values = np.zeros((64, 64), np.uint8)
        values[8 : 16 + 7 * bucket, 8 : 20 + 6 * bucket] = 255
        Image.fromarray(values).save(masks / f"{bucket * 2000:05d}.png")
    arguments = ["calibrate-uncertainty", "--model", str(calibrated), "--fit-images", str(fit)]
    arguments += ["--fit-every", "1", "--images", str(validation), "--masks", str(masks)]
    arguments += ["--size", "64", "--draws", "2", "--pixels", "256", "--threads", "1"]
    assert main([*arguments, "--report", str(tmp_path / "report.md")]) == 0
    assert "| error-map |" in (tmp_path / "report.md").read_text()
    section = json.loads((calibrated / CARD_NAME).read_text())["uncertainty"]
    methods = section["methods"]
    assert methods["error-map"]["fitted_on"]["samples"] == 2 * 6 * 2  # photos, buckets, families
    assert methods["monte-carlo"]["validation"]["samples"] == 2 * 6
    for method, described in methods.items():
        assert (described["offered"], described["why"]) == judge(described["validation"]), method
    offered = [method for method, described in methods.items() if described["offered"]]
    assert section.get("default") in (offered or [None])  # None is left out of the card
    assert Inpainter.load(calibrated).offered_uncertainty == tuple(offered)

    photo_path, mask_path = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(photo()).save(photo_path)
    mask_path.write_bytes(hole_mask())
    predict = ["predict", str(photo_path), "--mask", str(mask_path), "--model", str(calibrated)]
    # An untrained network's dropout spread does not rank the error. (The error map may:
    # the synthesis fills from the photo itself, whatever the network learnt.)
    assert "monte-carlo" not in offered
    assert main([*predict, "-o", str(tmp_path / "out.png"), "--uncertainty", "monte-carlo"]) == 2
    assert "does not offer the monte-carlo uncertainty map; its card says: not offered" in (
        capsys.readouterr().err
    )
    assert main([*predict, "-o", str(tmp_path / "auto.png"), "--uncertainty", "auto"]) == 0
    made = (tmp_path / "auto.uncertainty.png").exists()
    assert made == bool(offered), "auto: the offered map, or none where none is offered"

    card = json.loads((calibrated / CARD_NAME).read_text())
    for described in card["uncertainty"]["methods"].values():
        described["offered"] = True  # as if both had passed
    (calibrated / CARD_NAME).write_text(json.dumps(card))
    for method in ("error-map", "monte-carlo"):
        assert main([*predict, "-o", str(tmp_path / f"{method}.png"), "--uncertainty", method]) == 0
        saved = np.load(tmp_path / f"{method}.uncertainty.npz")
        assert str(saved["method"]) == method and saved["values"].shape == (40, 56)
        assert Image.open(tmp_path / f"{method}.uncertainty.png").mode == "RGBA"
    expected = Inpainter.load(calibrated).inpaint(photo(), hole_mask(), uncertainty="error-map")
    np.testing.assert_allclose(
        np.load(tmp_path / "error-map.uncertainty.npz")["values"], expected.uncertainty.values
    )
    assert set(np.load(tmp_path / "monte-carlo.uncertainty.npz")) >= {"mean", "lower", "upper"}


def test_cli_predict_one_file_and_a_missing_model(model_dir, tmp_path, capsys):
    (tmp_path / "photo.jpg").write_bytes(encode(Image.fromarray(photo()), "JPEG"))
    (tmp_path / "mask.png").write_bytes(hole_mask())
    arguments = ["predict", str(tmp_path / "photo.jpg"), "--mask", str(tmp_path / "mask.png")]
    output = tmp_path / "result.png"
    assert main([*arguments, "-o", str(output), "--model", str(model_dir)]) == 0
    assert Image.open(output).format == "PNG"
    assert main([*arguments, "-o", str(output), "--model", str(tmp_path / "none")]) == 2
    assert "no model folder" in capsys.readouterr().err
