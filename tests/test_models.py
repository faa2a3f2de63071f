"""The PConv U-Net: the paper's size, shapes, batch-norm freezing, Monte-Carlo dropout."""

import keras
import numpy as np
import pytest
from keras import ops

from holefill.nn.architectures import describe
from holefill.nn.config import PConvUNetConfig
from holefill.nn.models import (
    ENCODER_BATCH_NORM_PREFIX,
    build_pconv_unet,
    set_encoder_batch_norm_frozen,
)

pytestmark = pytest.mark.keras_backend

TINY = PConvUNetConfig(image_size=32, depth=4, width=0.125, dropout_rate=0.5, dropout_layers=2)


def random_inputs(size=32, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    mask = (rng.random((batch, size, size, 1)) > 0.3).astype("float32")
    return {"image": rng.random((batch, size, size, 3)).astype("float32") * mask, "mask": mask}


def test_paper_configuration_size_and_cost():
    description = describe(PConvUNetConfig())
    assert description["trainable_parameters"] == pytest.approx(32.87e6, rel=1e-3)
    assert description["parameters"] - description["trainable_parameters"] == 10_880
    assert description["gflop_per_image"] == pytest.approx(76.7, rel=1e-2)
    half = describe(PConvUNetConfig(width=0.5))
    assert half["gflop_per_image"] < 20


def test_monte_carlo_dropout_sits_on_the_last_dropout_layers():
    stochastic = build_pconv_unet(TINY, monte_carlo=True)
    assert [layer.name for layer in stochastic.layers if "dropout" in layer.name] == [
        "decoder_dropout_2",
        "decoder_dropout_1",
    ]


def test_frozen_encoder_batch_norm_keeps_statistics_and_runs_in_inference_mode():
    model = build_pconv_unet(TINY)
    frozen = set_encoder_batch_norm_frozen(model)
    assert frozen and all(layer.name.startswith(ENCODER_BATCH_NORM_PREFIX) for layer in frozen)
    encoder_before = [layer.get_weights() for layer in frozen]
    decoder_bn = model.get_layer("decoder_bn_2")
    decoder_before = decoder_bn.get_weights()

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mae")
    inputs = random_inputs(batch=4)
    model.fit(inputs, np.ones((4, 32, 32, 3), "float32"), epochs=1, batch_size=4, verbose=0)

    for layer, before in zip(frozen, encoder_before, strict=True):
        for after_weight, before_weight in zip(layer.get_weights(), before, strict=True):
            np.testing.assert_array_equal(after_weight, before_weight)
    assert not np.allclose(decoder_bn.get_weights()[2], decoder_before[2]), "decoder still learns"

    # Inference mode: the layer ignores training=True and normalises with running statistics.
    layer = frozen[0]
    features = np.random.default_rng(1).normal(3.0, 2.0, (2, 4, 4, layer.gamma.shape[0]))
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer(features, training=True)),
        ops.convert_to_numpy(layer(features, training=False)),
        atol=1e-5,
    )
    set_encoder_batch_norm_frozen(model, frozen=False)
    assert all(layer.trainable for layer in frozen)
