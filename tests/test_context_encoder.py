"""The context encoder: its trainable channel-wise fully connected bottleneck, the patch
discriminator, adversarial training with two optimizers, export to LiteRT and serving."""

import json

import keras
import numpy as np
import pytest

from holefill.card import CARD_NAME
from holefill.cli import main
from holefill.export.litert import export_model
from holefill.masks.generator import MaskGenerator
from holefill.nn.checkpoints import load_checkpoint
from holefill.nn.config import AdversarialConfig, ContextEncoderConfig
from holefill.nn.context_encoder import build_context_encoder, build_patch_discriminator
from holefill.nn.layers import ChannelWiseFullyConnected
from holefill.nn.loading import load_generator
from holefill.training.loop import train
from holefill.training.trainers import build_trainer

pytestmark = pytest.mark.keras_backend

TINY = ContextEncoderConfig(
    image_size=32,
    depth=3,
    filters=4,
    dropout_rate=0.4,
    discriminator_filters=4,
    discriminator_depth=2,
)


def random_inputs(batch=2, seed=0, kind="centre_block"):
    rng = np.random.default_rng(seed)
    masks = MaskGenerator(seed)
    mask = np.stack([masks.sample(32, 32, (0.1, 0.3), kinds={kind: 1}) for _ in range(batch)])
    truth = rng.random((batch, 32, 32, 3), dtype=np.float32)
    return {"image": truth * mask, "mask": mask}, truth


def run(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def test_generator_bottleneck_discriminator_patches_and_the_fixed_size():
    generator = build_context_encoder(TINY)
    inputs, _ = random_inputs()
    assert generator.get_layer("channel_wise_fc").output.shape == (None, 4, 4, 16)

    discriminator = build_patch_discriminator(TINY)
    assert discriminator(inputs["image"]).shape == (2, 8, 8, 1)

    with pytest.raises(ValueError, match="input_size must be 32"):
        build_context_encoder(TINY, input_size=64)
    with pytest.raises(ValueError, match="tile_size must be 32"):
        TINY.validate_input_size(64, "tile_size")


def test_channel_wise_fully_connected_is_one_trainable_matrix_per_channel(tmp_path):
    layer = ChannelWiseFullyConnected()
    features = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    output = keras.ops.convert_to_numpy(layer(features))
    kernel, bias = (keras.ops.convert_to_numpy(weight) for weight in (layer.kernel, layer.bias))
    assert kernel.shape == (5, 12, 12) and bias.shape == (12, 5)
    flat = features.reshape(2, 12, 5)
    expected = np.einsum("npc,cpq->nqc", flat, kernel) + bias
    np.testing.assert_allclose(output, expected.reshape(2, 3, 4, 5), rtol=1e-5, atol=1e-5)
    assert {id(weight) for weight in layer.trainable_weights} == {id(layer.kernel), id(layer.bias)}
    # Glorot uniform over each 12 x 12 matrix (limit sqrt(6 / 24)), not over the whole
    # (5, 12, 12) tensor, which would draw sqrt(5) times smaller weights.
    assert kernel.std() == pytest.approx(np.sqrt(6 / 24) / np.sqrt(3), rel=0.15)

    model = keras.Sequential([keras.Input((3, 4, 5)), layer])
    model.save(tmp_path / "layer.keras")
    restored = keras.saving.load_model(tmp_path / "layer.keras")
    np.testing.assert_allclose(run(restored, features), output, rtol=1e-6)
    with pytest.raises(ValueError, match="fixed height, width and channel count"):
        ChannelWiseFullyConnected().build((None, None, None, 5))


@pytest.mark.training
def test_adversarial_training_updates_both_networks_and_the_channel_wise_layer(
    training_config, tmp_path
):
    keras.utils.set_random_seed(0)
    config = training_config(tmp_path, TINY, learning_rate=1e-2)
    trainer = build_trainer(TINY, config)
    inputs, truth = random_inputs(batch=4)
    channel_wise = trainer.generator.get_layer("channel_wise_fc")
    before = [keras.ops.convert_to_numpy(weight) for weight in channel_wise.trainable_weights]
    discriminator_before = trainer.discriminator.get_weights()

    history = trainer.fit(inputs, truth, batch_size=4, epochs=1, verbose=0).history
    for weight, old in zip(channel_wise.trainable_weights, before, strict=True):
        assert not np.allclose(keras.ops.convert_to_numpy(weight), old), weight.path
    for new, old in zip(trainer.discriminator.get_weights(), discriminator_before, strict=True):
        assert not np.allclose(new, old)
    assert int(trainer.optimizer.iterations.numpy()) == 1
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 1
    weights = AdversarialConfig()
    expected = (
        weights.reconstruction_weight * history["reconstruction"][0]
        + weights.adversarial_weight * history["adversarial"][0]
    )
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert 0.0 < history["discriminator"][0] < 2.0

    history = trainer.fit(inputs, truth, batch_size=4, epochs=12, verbose=0).history
    assert history["blind_mae"][-1] < 0.7 * history["blind_mae"][0]
    assert int(trainer.discriminator_optimizer.iterations.numpy()) == 13


@pytest.mark.training
def test_the_optional_style_term_joins_the_generator_loss(training_config, tmp_path):
    adversarial = AdversarialConfig(style_weight=0.01)
    trainer = build_trainer(TINY, training_config(tmp_path, TINY, adversarial=adversarial))
    inputs, truth = random_inputs(batch=2)
    history = trainer.fit(inputs, truth, batch_size=2, epochs=1, verbose=0).history
    expected = (
        adversarial.reconstruction_weight * history["reconstruction"][0]
        + adversarial.adversarial_weight * history["adversarial"][0]
        + adversarial.style_weight * history["style"][0]
    )
    assert history["style"][0] > 0 and history["loss"][0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.training
def test_train_checkpoints_both_networks_resumes_and_refuses_finetuning(training_config, tmp_path):
    run_dir = tmp_path / "run"
    train(training_config(run_dir, TINY))
    step, metadata, groups = load_checkpoint(train(training_config(run_dir, TINY, steps=4)))
    assert step == 4 and metadata["architecture"] == "context-encoder"
    assert set(groups) == {"model", "discriminator", "optimizer", "discriminator_optimizer"}
    assert int(groups["discriminator_optimizer"]["discriminator_sgd/iteration"]) == 4
    assert metadata["training"]["mask_kinds"] == {
        "centre_block": 1.0,
        "random_blocks": 1.0,
        "irregular": 1.0,
    }
    with pytest.raises(ValueError, match="does not apply to context-encoder"):
        train(
            training_config(
                tmp_path / "tuned", TINY, stage="finetune", initial_checkpoint=str(run_dir)
            )
        )
    with pytest.raises(ValueError, match="float16"):
        training_config(tmp_path / "half", TINY, precision="mixed_float16")


@pytest.fixture(scope="module")
def trained_export(training_config, tmp_path_factory):
    """A tiny context encoder trained for 2 steps and trained_export (TensorFlow only)."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("exporting to LiteRT needs KERAS_BACKEND=tensorflow")
    folder = tmp_path_factory.mktemp("context-encoder")
    train(training_config(folder / "run", TINY))
    assert main(["export", "--from", str(folder / "run"), "--output", str(folder / "export")]) == 0
    return folder / "export"


def test_export_writes_the_architecture_and_a_whole_tile_head(trained_export):
    with pytest.raises(ValueError, match="tile_size must be 32"):
        export_model(trained_export.parent / "run", trained_export.parent / "other", tile_size=64)
    card = json.loads((trained_export / CARD_NAME).read_text())
    assert card["architecture"] == "context-encoder" and card["config"] == TINY.to_dict()
    assert card["tile_size"] == 32 and card["export_check"]["litert_max_abs_difference"] < 1e-3
    assert card["export_check"]["monte_carlo_max_abs_difference"] < 1e-3
    # The channel-wise layer mixes every position: the head needs the whole tile.
    assert card["monte_carlo"]["crop_margin"] == 32


def test_serving_runs_the_context_encoder_and_its_uncertainty_lies_in_the_holes(
    trained_export, check_served_uncertainty
):
    reference, _ = load_generator(trained_export)
    inputs, _ = random_inputs(batch=1, seed=3, kind="irregular")
    check_served_uncertainty(trained_export, "context-encoder", inputs, run(reference, inputs)[0])
