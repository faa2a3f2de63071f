"""What every architecture must do, checked the same way for each (as keras-hub's
`run_vision_backbone_test`): run on the input sizes it takes and refuse others, keep its
configuration through a dict, draw Monte-Carlo samples only when asked, and save and load.
Each architecture's own behaviour is in its module's tests (test_models.py for the PConv
U-Net, test_unet3plus.py, test_context_encoder.py)."""

import dataclasses

import keras
import numpy as np
import pytest

from holefill.masks.generator import MaskGenerator
from holefill.nn.architectures import architecture_of
from holefill.nn.config import ContextEncoderConfig, PConvUNetConfig, UNet3PlusConfig

pytestmark = pytest.mark.keras_backend


@dataclasses.dataclass(frozen=True)
class Case:
    """A tiny network of one architecture.

    Attributes:
        config: its configuration.
        sizes: input sizes it runs on; `refused` one it refuses, with `refusal` matched.
        keeps_known: whether its output is the input on the known pixels (it composites).
        invalid: `(changes to the default configuration, message matched)` each refused.
    """

    config: object
    sizes: tuple
    refused: int
    refusal: str
    keeps_known: bool
    invalid: tuple

    @property
    def build(self):
        return architecture_of(self.config).build


CASES = {
    "pconv": Case(
        PConvUNetConfig(image_size=32, depth=4, width=0.125, dropout_rate=0.5, dropout_layers=2),
        sizes=(32, 48, 64),
        refused=40,
        refusal="multiple of 2\\*\\*depth = 16",
        keeps_known=False,
        invalid=(
            ({"image_size": 100, "depth": 4}, "multiple of 2\\*\\*depth"),
            ({"depth": 1}, "depth"),
            ({"width": 0}, "width"),
            ({"dropout_rate": 1.0}, "dropout_rate"),
            ({"depth": 4, "image_size": 32, "dropout_layers": 5}, "dropout_layers"),
        ),
    ),
    "unet3plus": Case(
        UNet3PlusConfig(image_size=32, depth=2, filters=4, dropout_rate=0.2),
        sizes=(32, 48),
        refused=30,
        refusal="input_size must be a multiple of 2\\*\\*depth = 4",
        keeps_known=True,
        invalid=(
            ({"depth": 0}, "depth"),
            ({"image_size": 30, "depth": 2}, "multiple of 2\\*\\*depth"),
            ({"filters": 0}, "filters"),
            ({"kernel_size": 4}, "odd"),
            ({"dropout_rate": 1.0}, "dropout_rate"),
            ({"interpolation": "bicubic"}, "interpolation"),
            ({"l2": -1e-5}, "l2"),
        ),
    ),
    "context-encoder": Case(
        ContextEncoderConfig(
            image_size=32,
            depth=3,
            filters=4,
            dropout_rate=0.4,
            discriminator_filters=4,
            discriminator_depth=2,
        ),
        sizes=(32,),
        refused=64,
        refusal="input_size must be 32",
        keeps_known=True,
        invalid=(
            ({"depth": 0}, "depth"),
            ({"image_size": 100}, "multiple of 2\\*\\*depth"),
            ({"filters": 0}, "filters"),
            ({"dropout_rate": 1.0}, "dropout_rate"),
            ({"discriminator_depth": 0}, "discriminator_depth"),
            ({"image_size": 512, "depth": 3}, "more than a checkpoint shard"),
        ),
    ),
}
INVALID = [
    pytest.param(type(case.config), changes, message, id=f"{name}-{'-'.join(changes)}")
    for name, case in CASES.items()
    for changes, message in case.invalid
]


@pytest.fixture(params=list(CASES), ids=list(CASES))
def case(request):
    keras.utils.set_random_seed(0)
    return CASES[request.param]


def random_inputs(size, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    masks = MaskGenerator(seed)
    mask = np.stack([masks.sample(size, size, (0.1, 0.3)) for _ in range(batch)])
    image = rng.random((batch, size, size, 3), dtype=np.float32) * mask
    return {"image": image, "mask": mask}


def run(model, inputs):
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def test_runs_on_every_size_it_takes_and_refuses_another(case):
    model = case.build(case.config)
    for size in case.sizes:
        inputs = random_inputs(size)
        output = run(model, inputs)
        assert output.shape == (2, size, size, 3) and np.isfinite(output).all()
        holes = inputs["mask"][..., 0] == 0
        assert not np.allclose(output[holes], 0.0), "the holes are filled"
        if case.keeps_known:
            np.testing.assert_array_equal(output[~holes], inputs["image"][~holes])
    with pytest.raises(ValueError, match=case.refusal):
        case.build(case.config, input_size=case.refused)


def test_the_configuration_round_trips_and_refuses_unknown_fields(case):
    config_class = type(case.config)
    assert config_class.from_dict(case.config.to_dict()) == case.config
    with pytest.raises(ValueError, match=f"Unknown {config_class.__name__} fields"):
        config_class.from_dict({**case.config.to_dict(), "colour": "red"})


@pytest.mark.parametrize(("config_class", "changes", "message"), INVALID)
def test_an_invalid_configuration_is_a_clear_error(config_class, changes, message):
    with pytest.raises(ValueError, match=message):
        config_class(**changes)


def test_monte_carlo_dropout_draws_only_when_asked_and_only_in_the_holes(case):
    deterministic = case.build(case.config)
    stochastic = case.build(case.config, monte_carlo=True)
    stochastic.set_weights(deterministic.get_weights())
    inputs = random_inputs(case.config.image_size)
    np.testing.assert_array_equal(run(deterministic, inputs), run(deterministic, inputs))
    draws = np.stack([run(stochastic, inputs) for _ in range(8)])
    spread = draws.max(axis=0) - draws.min(axis=0)
    holes = inputs["mask"][..., 0] == 0
    assert (spread[holes] > 1e-5).mean() > 0.9
    if case.keeps_known:
        assert spread[~holes].max() == 0.0


def test_the_whole_model_saves_and_loads(case, tmp_path):
    model = case.build(case.config)
    inputs = random_inputs(case.config.image_size)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(run(model, inputs), run(restored, inputs), atol=1e-6)
