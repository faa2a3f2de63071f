"""UNet3+ with Monte-Carlo dropout: shapes, configuration, dropout, deep supervision, the
serving split, training, export to LiteRT and serving."""

import json

import keras
import numpy as np
import pytest

from holefill.card import CARD_FORMAT_VERSION, CARD_NAME
from holefill.cli import main
from holefill.export.litert_graphs import monte_carlo_split
from holefill.masks.generator import MaskGenerator
from holefill.nn.architectures import describe
from holefill.nn.checkpoints import load_checkpoint
from holefill.nn.config import PConvUNetConfig, UNet3PlusConfig
from holefill.nn.models import count_flops
from holefill.nn.unet3plus import build_unet3plus
from holefill.training.loop import train
from holefill.training.trainers import build_trainer

pytestmark = pytest.mark.keras_backend

TINY = UNet3PlusConfig(image_size=32, depth=2, filters=4, dropout_rate=0.2)


def random_inputs(size=32, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.stack([MaskGenerator(seed + index).sample(size, size) for index in range(batch)])
    image = rng.random((batch, size, size, 3), dtype=np.float32) * mask
    return {"image": image, "mask": mask}


def run(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def test_full_scale_skips_dropout_on_every_resized_path_and_supervision_heads():
    model = build_unet3plus(TINY)
    dropouts = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    # After each of the 2 pools, and on the 2 resized paths into each of the 2 decoder levels.
    assert len(dropouts) == 2 + 2 * 2
    assert model.get_layer("decoder_0_concat").output.shape[-1] == 3 * TINY.filters
    assert model.get_layer("decoder_0_fuse_conv").output.shape[-1] == TINY.fused_filters
    assert model.get_layer("encoder_2_b_conv").output.shape[-1] == 4 * TINY.filters

    training = build_unet3plus(TINY, supervision_heads=True)
    outputs = training(random_inputs(), training=False)
    assert len(outputs) == 1 + TINY.depth
    assert all(tuple(output.shape) == (2, 32, 32, 3) for output in outputs)
    served = {weight.path for weight in model.weights}
    trained = {weight.path for weight in training.weights}
    assert served < trained
    assert all(path.startswith("supervision_") for path in trained - served)


def test_blindpaints_configuration_has_its_size():
    # BlindPaint's network: about 7 M parameters.
    assert describe(UNet3PlusConfig())["parameters"] == pytest.approx(6.76e6, rel=0.01)


def test_the_whole_network_after_the_first_block_is_the_monte_carlo_head():
    size = 96
    keras.utils.set_random_seed(3)
    model = build_unet3plus(TINY, input_size=size)
    split = monte_carlo_split(model)
    keeps = [name for name, spec in split.head_inputs.items() if spec["source"] == "keep"]
    assert len(keeps) == 6 and split.crop_alignment == 4 and 0 < split.crop_margin < size
    assert split.trunk_flops + split.head_flops == count_flops(model)
    assert split.head_flops > 5 * split.trunk_flops

    known = np.ones((1, size, size, 1), np.float32)
    known[:, 44:52, 40:50] = 0.0
    image = np.random.default_rng(0).random((1, size, size, 3), dtype=np.float32) * known
    inputs = {"image": image, "mask": known}
    trunk = {name: keras.ops.convert_to_numpy(value) for name, value in split.trunk(inputs).items()}
    rng = np.random.default_rng(1)
    keep_masks = {}
    for name, spec in split.head_inputs.items():
        if spec["source"] == "keep":
            side = size // spec["stride"]
            channels = split.head.get_layer(name).output.shape[-1]
            keep_masks[name] = (rng.random((1, side, side, channels)) >= 0.2) / 0.8
    whole = {
        name: np.asarray(value, np.float32)
        for name, value in {**inputs, **trunk, **keep_masks}.items()
    }
    ones = {**whole, **{name: np.ones_like(whole[name]) for name in keep_masks}}
    np.testing.assert_allclose(run(split.head, ones), run(model, inputs), atol=1e-5)

    # On a crop around the hole with the margin, the hole is filled as on the whole tile.
    margin = split.crop_margin
    rows, columns = slice(44 - margin, 52 + margin), slice(40 - margin, 52 + margin)

    def crop(value, stride):
        return value[
            :,
            rows.start // stride : rows.stop // stride,
            columns.start // stride : columns.stop // stride,
        ]

    cropped = {
        name: crop(value, split.head_inputs[name]["stride"]) for name, value in whole.items()
    }
    holes = known[0, rows, columns, 0] == 0
    np.testing.assert_allclose(
        run(split.head, cropped)[0][holes],
        run(split.head, whole)[0, rows, columns][holes],
        atol=1e-5,
    )


@pytest.mark.training
@pytest.mark.parametrize("loss", ["blind-mae", "pconv"])
def test_a_few_training_steps_lower_the_loss(loss, training_config, tmp_path):
    keras.utils.set_random_seed(0)
    config = training_config(tmp_path, TINY, loss=loss, learning_rate=1e-2)
    trainer = build_trainer(TINY, config)
    inputs = random_inputs(batch=4)
    # A vertical ramp: what the holes hold can be learned from their surroundings.
    ramp = np.linspace(0, 1, 32, dtype=np.float32)[:, None, None]
    truth = np.ascontiguousarray(np.broadcast_to(ramp, (4, 32, 32, 3)))
    inputs["image"] = truth * inputs["mask"]
    history = trainer.fit(inputs, truth, batch_size=4, epochs=12, verbose=0).history
    term = "blind_mae" if loss == "blind-mae" else "hole"
    assert history[term][-1] < 0.7 * history[term][0]


@pytest.mark.training
def test_train_records_the_architecture_resumes_and_refuses_finetuning(training_config, tmp_path):
    run_dir = tmp_path / "run"
    train(training_config(run_dir, TINY))
    step, metadata, groups = load_checkpoint(train(training_config(run_dir, TINY, steps=4)))
    assert step == 4 and metadata["architecture"] == "unet3plus"
    assert metadata["model"] == TINY.to_dict() and metadata["training"]["loss"] == "blind-mae"
    # The supervision heads train and resume, but the served model does not hold them.
    assert groups["supervision_heads"]
    assert not any(name.startswith("supervision_") for name in groups["model"])

    with pytest.raises(ValueError, match="does not apply to unet3plus"):
        train(
            training_config(
                tmp_path / "tuned", TINY, stage="finetune", initial_checkpoint=str(run_dir)
            )
        )
    with pytest.raises(ValueError, match="holds a unet3plus run, not a pconv one"):
        train(training_config(run_dir, PConvUNetConfig(image_size=32, depth=3), steps=6))


@pytest.fixture(scope="module")
def trained_export(photos, tmp_path_factory):
    """A tiny UNet3+ trained and trained_export with the command line (TensorFlow only)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exporting to LiteRT needs KERAS_BACKEND=tensorflow")
    folder = tmp_path_factory.mktemp("unet3plus")
    arguments = ["train", "--arch", "unet3plus", "--data", str(photos)]
    arguments += ["--output", str(folder / "run"), "--image-size", "32", "--depth", "2"]
    arguments += ["--filters", "4", "--dropout", "0.2", "--batch-size", "2", "--steps", "2"]
    arguments += ["--checkpoint-every", "2", "--sample-every", "2", "--jit-compile", "off"]
    assert main(arguments) == 0
    assert main(["export", "--from", str(folder / "run"), "--output", str(folder / "export")]) == 0
    return folder / "export"


def test_cli_trains_and_exports_a_unet3plus(trained_export):
    card = json.loads((trained_export / CARD_NAME).read_text())
    assert card["format_version"] == CARD_FORMAT_VERSION
    assert card["architecture"] == "unet3plus" and card["config"] == TINY.to_dict()
    assert card["export_check"]["litert_max_abs_difference"] < 1e-3
    assert card["export_check"]["monte_carlo_max_abs_difference"] < 1e-3
    assert card["monte_carlo"]["gflop_head_per_sample"] > card["monte_carlo"]["gflop_trunk"]


def test_serving_runs_the_unet3plus_and_its_uncertainty_lies_in_the_holes(
    trained_export, check_served_uncertainty
):
    from holefill.nn.loading import load_generator

    reference, _ = load_generator(trained_export, input_size=32)
    inputs = random_inputs(batch=1, seed=5)
    check_served_uncertainty(trained_export, "unet3plus", inputs, run(reference, inputs)[0])
