"""End-to-end training on a tiny model: resume, fine-tuning, export, and the CLI."""

import json

import keras
import numpy as np
import pytest
from PIL import Image
from skimage import data as skimage_data

from holefill.checkpoints import latest_checkpoint, load_checkpoint
from holefill.cli import main
from holefill.losses import build_vgg16_feature_extractor
from holefill.models import ENCODER_BATCH_NORM_PREFIX, PConvUNetConfig
from holefill.training import TrainingConfig, train

pytestmark = pytest.mark.keras_backend

TINY = PConvUNetConfig(image_size=32, depth=3, width=0.125, dropout_rate=0.1)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = Image.fromarray(getattr(skimage_data, name)()).resize((48, 40))
        image.save(folder / f"{name}.jpg")
    return folder


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory):
    """Random VGG weights: the tests check the training machinery, not what it learns."""
    extractor = build_vgg16_feature_extractor()
    path = tmp_path_factory.mktemp("vgg") / "vgg.npz"
    np.savez(
        path,
        **{
            f"{layer.name}/{kind}": value
            for layer in extractor.layers
            if isinstance(layer, keras.layers.Conv2D)
            for kind, value in zip(("kernel", "bias"), layer.get_weights(), strict=True)
        },
    )
    return path


def config(photos, vgg_weights, output_dir, **overrides):
    values = {
        "data_dirs": (str(photos),),
        "output_dir": str(output_dir),
        "vgg_weights": str(vgg_weights),
        "model": TINY,
        "batch_size": 2,
        "steps": 2,
        "checkpoint_every": 2,
        "sample_every": 2,
        "jit_compile": False,
    }
    return TrainingConfig(**{**values, **overrides})


def test_train_then_resume_then_finetune(photos, vgg_weights, tmp_path):
    run = tmp_path / "run"
    first = train(config(photos, vgg_weights, run))
    assert first.name == "step-00000002"
    assert (run / "samples" / "step-00000002.png").is_file()
    assert any((run / "logs").iterdir()), "TensorBoard event file"

    resumed = train(config(photos, vgg_weights, run, steps=4))
    step, metadata, groups = load_checkpoint(resumed)
    assert step == 4 and metadata["model"] == TINY.to_dict()
    assert int(np.asarray(groups["optimizer"]["adam/iteration"])) == 4

    tuned_run = tmp_path / "finetune"
    tuned = train(
        config(photos, vgg_weights, tuned_run, stage="finetune", initial_checkpoint=str(run))
    )
    tuned_step, tuned_metadata, tuned_groups = load_checkpoint(tuned)
    assert tuned_step == 2 and tuned_metadata["training"]["learning_rate"] == 5e-5
    encoder_statistics = [
        name for name in groups["model"] if ENCODER_BATCH_NORM_PREFIX in name and "moving" in name
    ]
    assert encoder_statistics
    for name in encoder_statistics:
        np.testing.assert_array_equal(tuned_groups["model"][name], groups["model"][name])
    changed = [
        name
        for name in groups["model"]
        if "decoder_pconv" in name
        and not np.array_equal(tuned_groups["model"][name], groups["model"][name])
    ]
    assert changed, "fine-tuning must update the decoder"


def test_resuming_another_stage_in_the_same_folder_is_refused(photos, vgg_weights, tmp_path):
    run = tmp_path / "run"
    train(config(photos, vgg_weights, run))
    with pytest.raises(ValueError, match="another output folder"):
        train(config(photos, vgg_weights, run, stage="finetune", initial_checkpoint=str(run)))


def test_invalid_training_configurations(photos, vgg_weights, tmp_path):
    with pytest.raises(ValueError, match="multiples of checkpoint_every"):
        config(photos, vgg_weights, tmp_path, steps=3)
    with pytest.raises(ValueError, match="trained checkpoint"):
        config(photos, vgg_weights, tmp_path, stage="finetune")
    with pytest.raises(ValueError, match="precision"):
        config(photos, vgg_weights, tmp_path, precision="float8")


def test_export_matches_keras_or_says_it_needs_tensorflow(photos, vgg_weights, tmp_path):
    run = tmp_path / "run"
    train(config(photos, vgg_weights, run))
    arguments = ["export", "--from", str(run), "--output", str(tmp_path / "export")]
    if keras.backend.backend() != "tensorflow":
        assert main(arguments) == 2
        return
    assert main([*arguments, "--tile-size", "64"]) == 0
    card = json.loads((tmp_path / "export" / "model.json").read_text())
    assert card["tile_size"] == 64 and card["config"] == TINY.to_dict()
    assert card["export_check"]["litert_max_abs_difference"] < 1e-3
    assert (tmp_path / "export" / "model.tflite").stat().st_size > 1000


def test_cli_info_and_evaluate(photos, tmp_path, capsys):
    assert main(["info", "--width", "0.5"]) == 0
    assert "GFLOP per 512 px image" in capsys.readouterr().out
    output = tmp_path / "evaluation"
    arguments = ["evaluate", "--images", str(photos), "--generated-masks", "1", "--size", "32"]
    arguments.append("--no-lpips")  # LPIPS has its own tests, in test_lpips.py.
    assert main([*arguments, "--baselines", "telea,ns", "--output", str(output)]) == 0
    report = json.loads((output / "evaluation.json").read_text())
    assert report["methods"] == ["telea", "ns"]
    assert main([*arguments, "--baselines", "photoshop"]) == 2
    assert "unknown baseline" in capsys.readouterr().err


def test_cli_evaluates_a_trained_run(photos, vgg_weights, tmp_path):
    run = tmp_path / "run"
    train(config(photos, vgg_weights, run))
    output = tmp_path / "evaluation"
    arguments = ["evaluate", "--model", str(run), "--images", str(photos), "--size", "32"]
    arguments.append("--no-lpips")  # LPIPS has its own tests, in test_lpips.py.
    assert main([*arguments, "--generated-masks", "1", "--output", str(output)]) == 0
    report = json.loads((output / "evaluation.json").read_text())
    assert report["methods"][0] == "holefill"
    assert latest_checkpoint(run / "checkpoints") is not None


def test_cli_records_training_and_evaluation_in_the_card(photos, vgg_weights, tmp_path, capsys):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export to LiteRT needs the TensorFlow backend")
    run, tuned, model = tmp_path / "train", tmp_path / "finetune", tmp_path / "model"
    train(config(photos, vgg_weights, run))
    train(config(photos, vgg_weights, tuned, stage="finetune", initial_checkpoint=str(run)))
    assert main(["export", "--from", str(tuned), "--output", str(model)]) == 0
    evaluation = tmp_path / "evaluation"
    arguments = ["evaluate", "--model", str(model), "--images", str(photos), "--size", "32"]
    arguments += ["--generated-masks", "1", "--no-lpips", "--uncertainty-samples", "3"]
    assert main([*arguments, "--grid", "4", "--output", str(evaluation)]) == 0
    # Rows of input, mask, holefill, telea, ns, biharmonic and the truth.
    assert Image.open(evaluation / "grid.jpg").size == (7 * 32, 4 * 32)
    uncertainty = json.loads((evaluation / "uncertainty.json").read_text())
    assert uncertainty["draws"] == 3 and uncertainty["counts"]["overall"] == 24

    card_arguments = ["card", "--model", str(model), "--data-terms", "Research use only."]
    card_arguments += ["--hardware", "a test machine"]
    assert main([*card_arguments, "--evaluation", f"32={evaluation}"]) == 0
    card = json.loads((model / "model.json").read_text())
    stages = card["training"]["stages"]
    assert [stage["stage"] for stage in stages] == ["train", "finetune"]
    assert all(stage["images_per_second"] > 0 for stage in stages)
    assert card["training"]["data"] == {"folders": [str(photos)], "terms": "Research use only."}
    assert card["evaluation"]["32"]["uncertainty"] == uncertainty
    assert isinstance(card["evaluation"]["32"]["quality_bar"], bool)
    capsys.readouterr()
    assert main([*card_arguments, "--evaluation", str(evaluation)]) == 2
    assert "SIZE=FOLDER" in capsys.readouterr().err
    assert main([*card_arguments, "--evaluation", f"32={tmp_path}"]) == 2
    assert "has no evaluation.json" in capsys.readouterr().err
