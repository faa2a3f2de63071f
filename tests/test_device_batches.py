"""The device pipeline: crops, flips and mask placement against numpy references, and a
tiny training run that draws its batches inside the step."""

import math

import cv2
import numpy as np
import pytest
from keras import ops

from holefill.nn.checkpoints import load_checkpoint
from holefill.nn.config import ContextEncoderConfig, PConvUNetConfig
from holefill.nn.loading import save_weights_only
from holefill.training.device_batches import DeviceBatchSampler, build_mask_bank, load_photo_array
from holefill.training.loop import train

pytestmark = pytest.mark.keras_backend

SIZE = 16
TINY = PConvUNetConfig(image_size=32, depth=3, width=0.125, dropout_rate=0.1)


def photo_stack(count=3, side=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (count, side, side, 3), dtype=np.uint8)


def sampler_of(photos, bank, **overrides):
    values = {"batch_size": 2, "hole_ratio": (0.0, 1.0), "max_dilation": 2, "seed": 0}
    return DeviceBatchSampler(photos, bank, **{**values, **overrides})


def integers(*values):
    return ops.convert_to_tensor(np.array(values, np.int32))


def test_crops_are_the_photos_pixels_mirrored_where_asked():
    photos = photo_stack()
    bank = np.zeros((1, SIZE, SIZE), np.uint8)
    crops = ops.convert_to_numpy(
        sampler_of(photos, bank).crops(
            integers(2, 0), integers(3, 8), integers(5, 0), ops.convert_to_tensor([False, True])
        )
    )
    np.testing.assert_allclose(crops[0], photos[2, 3:19, 5:21] / 255.0, atol=1e-6)
    np.testing.assert_allclose(crops[1], photos[0, 8:24, 0:16][:, ::-1] / 255.0, atol=1e-6)


def test_mask_placement_rotates_mirrors_shifts_and_dilates_like_numpy_and_opencv():
    rng = np.random.default_rng(1)
    bank = (rng.random((2, SIZE, SIZE)) < 0.2).astype(np.uint8)
    sampler = sampler_of(photo_stack(), bank)

    def placed(mask, angle, mirror, shift_y, shift_x, dilation):
        result = sampler.placed_masks(
            integers(mask),
            ops.convert_to_tensor(np.array([angle], np.float32)),
            ops.convert_to_tensor([mirror]),
            integers(shift_y),
            integers(shift_x),
            integers(dilation),
        )
        return ops.convert_to_numpy(result)[0, ..., 0]

    np.testing.assert_array_equal(placed(1, 0.0, False, 0, 0, 0), bank[1])
    # Positive angles turn the content clockwise as the picture shows it (rows downwards).
    np.testing.assert_array_equal(placed(0, math.pi / 2, False, 0, 0, 0), np.rot90(bank[0], -1))
    np.testing.assert_array_equal(placed(0, 0.0, True, 0, 0, 0), bank[0][:, ::-1])
    shifted = np.zeros_like(bank[0])
    shifted[3:, :-2] = bank[0][:-3, 2:]
    np.testing.assert_array_equal(placed(0, 0.0, False, 3, -2, 0), shifted)
    grown = cv2.dilate(bank[1], np.ones((3, 3), np.uint8), iterations=2)
    np.testing.assert_array_equal(placed(1, 0.0, False, 0, 0, 2), grown)


def test_a_mask_moved_out_of_the_ratio_range_falls_back_to_the_bank_mask():
    bank = np.zeros((1, SIZE, SIZE), np.uint8)
    bank[0, 6:10, 6:10] = 1  # 16 of 256 pixels: 6.25%
    sampler = sampler_of(photo_stack(), bank, hole_ratio=(0.05, 0.1))
    far = sampler.placed_masks(
        integers(0, 0),
        ops.convert_to_tensor(np.zeros(2, np.float32)),
        ops.convert_to_tensor([False, False]),
        integers(0, 1),
        integers(12, 1),  # the first pushed out of the frame, the second moved by a pixel
        integers(0, 0),
    )
    far = ops.convert_to_numpy(far)[..., 0]
    np.testing.assert_array_equal(far[0], bank[0])
    np.testing.assert_array_equal(far[1], np.roll(bank[0], (1, 1), axis=(0, 1)))


def test_draws_are_masked_photos_in_range_and_vary():
    photos = photo_stack(count=5)
    bank = build_mask_bank(8, size=SIZE, kinds=None, hole_ratio=(0.1, 0.5), seed=0)
    holes = bank.reshape(8, -1).mean(axis=1)
    assert np.all((holes > 0.1) & (holes <= 0.5))
    sampler = sampler_of(photos, bank, batch_size=4, hole_ratio=(0.1, 0.5))
    (inputs, truth), (again, _) = sampler.draw(), sampler.draw()
    mask, truth = ops.convert_to_numpy(inputs["mask"]), ops.convert_to_numpy(truth)
    assert mask.shape == (4, SIZE, SIZE, 1) and truth.shape == (4, SIZE, SIZE, 3)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    ratios = 1 - mask.mean(axis=(1, 2, 3))
    assert np.all((ratios > 0.1) & (ratios <= 0.5))
    np.testing.assert_allclose(ops.convert_to_numpy(inputs["image"]), truth * mask)
    assert not np.array_equal(ops.convert_to_numpy(again["mask"]), mask)


def test_photos_of_several_sizes_become_one_square_stack(photos):
    stack = load_photo_array([photos], image_size=32)
    # The 48 x 40 photos: the short side, 40, is kept.
    assert stack.shape == (4, 40, 40, 3) and stack.dtype == np.uint8
    assert load_photo_array([photos], image_size=64).shape == (4, 64, 64, 3)


@pytest.mark.parametrize(
    ("photos", "bank", "message"),
    [
        (np.zeros((2, 8, 9, 3), np.uint8), np.zeros((1, 8, 8), np.uint8), "photos must be"),
        (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((1, 8, 9), np.uint8), "mask_bank must be"),
        (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((1, 16, 16), np.uint8), "do not fit"),
    ],
)
def test_mismatched_photos_and_masks_are_refused(photos, bank, message):
    with pytest.raises(ValueError, match=message):
        sampler_of(photos, bank)


@pytest.mark.training
def test_training_on_the_device_pipeline_resumes_and_starts_from_slim_weights(
    training_config, tmp_path
):
    run = tmp_path / "run"
    config = training_config(run, TINY, pipeline="device", mask_bank_size=6)
    first = train(config)
    assert first.name == "step-00000002" and (run / "samples" / "step-00000002.png").is_file()
    resumed = train(training_config(run, TINY, pipeline="device", mask_bank_size=6, steps=4))
    step, metadata, groups = load_checkpoint(resumed)
    assert step == 4 and metadata["training"]["pipeline"] == "device"
    assert not any("photos" in name or "masks" in name for name in groups["model"])

    slim = save_weights_only(run, tmp_path / "slim" / "checkpoints")
    _, _, slim_groups = load_checkpoint(slim)
    assert set(slim_groups) == {"model"}
    assert {array.dtype for array in slim_groups["model"].values()} == {np.dtype("float16")}
    started = train(training_config(tmp_path / "next", TINY, initial_checkpoint=str(slim)))
    _, _, next_groups = load_checkpoint(started)
    assert int(np.asarray(next_groups["optimizer"]["adam/iteration"])) == 2


def test_the_context_encoder_keeps_host_batches(training_config, tmp_path):

    with pytest.raises(ValueError, match="host batches"):
        training_config(tmp_path, ContextEncoderConfig(), pipeline="device")


def test_unknown_pipelines_are_refused(training_config, tmp_path):
    with pytest.raises(ValueError, match="pipeline must be one of"):
        training_config(tmp_path, TINY, pipeline="gpu")
