"""End-to-end training on a tiny model: resume, fine-tuning, export, and the CLI."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from holefill.cli import main
from holefill.nn.checkpoints import latest_checkpoint, load_checkpoint, resolve_checkpoint
from holefill.nn.config import LossWeights, PConvUNetConfig
from holefill.nn.models import ENCODER_BATCH_NORM_PREFIX
from holefill.training.loop import train

pytestmark = pytest.mark.keras_backend

TINY = PConvUNetConfig(image_size=32, depth=3, width=0.125, dropout_rate=0.1)


@pytest.mark.training
def test_train_then_resume_then_finetune(training_config, tmp_path):
    run = tmp_path / "run"
    first = train(training_config(run, TINY))
    assert first.name == "step-00000002"
    assert (run / "samples" / "step-00000002.png").is_file()
    assert any((run / "logs").iterdir()), "TensorBoard event file"

    resumed = train(training_config(run, TINY, steps=4))
    step, metadata, groups = load_checkpoint(resumed)
    assert step == 4 and metadata["model"] == TINY.to_dict()
    assert int(np.asarray(groups["optimizer"]["adam/iteration"])) == 4

    tuned_run = tmp_path / "finetune"
    tuned = train(training_config(tuned_run, TINY, stage="finetune", initial_checkpoint=str(run)))
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


@pytest.mark.training
def test_resuming_another_stage_in_the_same_folder_is_refused(training_config, tmp_path):
    run = tmp_path / "run"
    train(training_config(run, TINY))
    with pytest.raises(ValueError, match="another output folder"):
        train(training_config(run, TINY, stage="finetune", initial_checkpoint=str(run)))


@pytest.mark.training
def test_the_pixel_terms_alone_train_without_vgg_weights(training_config, tmp_path):
    pixel_only = LossWeights(perceptual=0.0, style_out=0.0, style_comp=0.0)
    missing = str(tmp_path / "absent.npz")
    checkpoint = train(
        training_config(
            tmp_path / "run", TINY, loss_weights=pixel_only, vgg_weights=missing, workers=2
        )
    )
    assert checkpoint.name == "step-00000002"
    with pytest.raises(ValueError, match="perceptual and style terms need VGG16 weights"):
        train(training_config(tmp_path / "with-vgg", TINY, vgg_weights=missing))


def test_invalid_training_configurations(training_config, tmp_path):
    with pytest.raises(ValueError, match="multiples of checkpoint_every"):
        training_config(tmp_path, TINY, steps=3)
    with pytest.raises(ValueError, match="trained checkpoint"):
        training_config(tmp_path, TINY, stage="finetune")
    with pytest.raises(ValueError, match="precision"):
        training_config(tmp_path, TINY, precision="float8")


@pytest.mark.training
def test_export_matches_keras_or_says_it_needs_tensorflow(training_config, tmp_path):
    run = tmp_path / "run"
    train(training_config(run, TINY))
    arguments = ["export", "--from", str(run), "--output", str(tmp_path / "export")]
    if keras.backend.backend() != "tensorflow":
        assert main(arguments) == 2
        return
    assert main([*arguments, "--tile-size", "64"]) == 0
    card = json.loads((tmp_path / "export" / "model.json").read_text())
    assert card["tile_size"] == 64 and card["config"] == TINY.to_dict()
    assert card["export_check"]["litert_max_abs_difference"] < 1e-3
    assert (tmp_path / "export" / "model.tflite").stat().st_size > 1000

    # An exported model is a start for fine-tuning too: its weights, as training names them.
    assert main(["slim", "--from", str(tmp_path / "export"), "--output", str(tmp_path / "s")]) == 0
    _, run_metadata, run_groups = load_checkpoint(resolve_checkpoint(run))
    step, metadata, groups = load_checkpoint(resolve_checkpoint(tmp_path / "s"))
    assert metadata["model"] == TINY.to_dict() and step == 2
    assert metadata["stage"] == run_metadata["stage"] == "train"
    assert groups["model"].keys() == run_groups["model"].keys()
    for name, array in run_groups["model"].items():
        np.testing.assert_array_equal(groups["model"][name], array.astype("float16"))


@pytest.mark.training
def test_a_checkpoint_without_an_architecture_holds_a_pconv(training_config, tmp_path):
    from holefill.nn.loading import load_generator

    run = tmp_path / "run"
    checkpoint = train(training_config(run, TINY))
    index = json.loads((checkpoint / "index.json").read_text())
    assert index["metadata"].pop("architecture") == "pconv"
    (checkpoint / "index.json").write_text(json.dumps(index))
    model, origin = load_generator(run)
    assert origin.architecture == "pconv" and origin.config == TINY
    assert model.get_layer("decoder_pconv_1")
    step, metadata, _ = load_checkpoint(train(training_config(run, TINY, steps=4)))
    assert step == 4 and metadata["architecture"] == "pconv"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--arch", "unet3plus", "--width", "0.5"], "--width does not apply to --arch unet3plus"),
        (["--arch", "context-encoder", "--dropout-layers", "2"], "--dropout-layers does not"),
        (["--adversarial-weight", "0.1"], "applies to --arch context-encoder only"),
        (["--mask-kind", "stars=1"], "unknown mask kinds ['stars']"),
        (["--arch", "unet3plus", "--depth", "9"], "depth must be between 1 and 8"),
    ],
)
def test_cli_train_refuses_flags_of_another_architecture(
    photos, tmp_path, capsys, arguments, message
):
    command = ["train", "--data", str(photos), "--output", str(tmp_path / "run"), *arguments]
    assert main(command) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_info_describes_every_architecture(capsys):
    assert main(["info", "--arch", "context-encoder", "--filters", "16"]) == 0
    output = capsys.readouterr().out
    assert '"architecture": "context-encoder"' in output and "GFLOP per 128 px image" in output
    assert main(["info", "--arch", "unet3plus", "--image-size", "64", "--filters", "8"]) == 0
    assert "GFLOP per 64 px image" in capsys.readouterr().out


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


@pytest.mark.training
def test_cli_evaluates_a_trained_run(photos, training_config, tmp_path):
    run = tmp_path / "run"
    train(training_config(run, TINY))
    output = tmp_path / "evaluation"
    arguments = ["evaluate", "--model", str(run), "--images", str(photos), "--size", "32"]
    arguments.append("--no-lpips")  # LPIPS has its own tests, in test_lpips.py.
    assert main([*arguments, "--generated-masks", "1", "--output", str(output)]) == 0
    report = json.loads((output / "evaluation.json").read_text())
    assert report["methods"][0] == "holefill"
    assert latest_checkpoint(run / "checkpoints") is not None


@pytest.mark.training
def test_cli_records_training_and_evaluation_in_the_card(photos, training_config, tmp_path, capsys):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("export to LiteRT needs the TensorFlow backend")
    run, tuned, model = tmp_path / "train", tmp_path / "finetune", tmp_path / "model"
    train(training_config(run, TINY))
    # As the CLI does: a fine-tuning run is handed a placeholder network.
    placeholder = PConvUNetConfig()
    train(training_config(tuned, placeholder, stage="finetune", initial_checkpoint=str(run)))
    assert main(["export", "--from", str(tuned), "--output", str(model)]) == 0
    evaluation = tmp_path / "evaluation"
    arguments = ["evaluate", "--model", str(model), "--images", str(photos), "--size", "32"]
    arguments += ["--generated-masks", "1", "--no-lpips", "--uncertainty-samples", "3"]
    assert main([*arguments, "--grid", "4", "--output", str(evaluation)]) == 0
    # Rows of input, mask, holefill, telea, ns, biharmonic, patchmatch and the truth.
    assert Image.open(evaluation / "grid.jpg").size == (8 * 32, 4 * 32)
    uncertainty = json.loads((evaluation / "uncertainty.json").read_text())
    assert uncertainty["draws"] == 3 and uncertainty["counts"]["overall"] == 24

    card_arguments = ["card", "--model", str(model), "--data-terms", "Research use only."]
    card_arguments += ["--hardware", "a test machine"]
    assert main([*card_arguments, "--evaluation", f"32={evaluation}"]) == 0
    card = json.loads((model / "model.json").read_text())
    stages = card["training"]["stages"]
    assert [stage["stage"] for stage in stages] == ["train", "finetune"]
    assert all(stage["images_per_second"] > 0 for stage in stages)
    assert all(stage["settings"]["model"] == TINY.to_dict() for stage in stages)
    assert card["training"]["data"] == {"folders": [str(photos)], "terms": "Research use only."}
    assert card["fill"]["default"] == "synthesis"
    assert card["evaluation"]["32"]["uncertainty"] == uncertainty
    assert isinstance(card["evaluation"]["32"]["quality_bar"], bool)
    capsys.readouterr()
    assert main([*card_arguments, "--evaluation", str(evaluation)]) == 2
    assert "SIZE=FOLDER" in capsys.readouterr().err
    assert main([*card_arguments, "--evaluation", f"32={tmp_path}"]) == 2
    assert "has no evaluation.json" in capsys.readouterr().err

    # Fine-tuned again from the exported model's slim weights: the card still has every run.
    slim, again, remodel = tmp_path / "slim", tmp_path / "again", tmp_path / "remodel"
    assert main(["slim", "--from", str(model), "--output", str(slim / "checkpoints")]) == 0
    train(training_config(again, placeholder, stage="finetune", initial_checkpoint=str(slim)))
    assert main(["export", "--from", str(again), "--output", str(remodel)]) == 0
    remodel_card = ["card", "--model", str(remodel), *card_arguments[3:]]
    assert main(remodel_card) == 0
    stages = json.loads((remodel / "model.json").read_text())["training"]["stages"]
    assert [stage["run"] for stage in stages] == [str(run), str(tuned), str(again)]
