"""The `holefill` command line: training flags made from the configuration dataclasses, and
`--config` files (the default model's recipe among them). Nothing here trains."""

import dataclasses
import re
import shlex

import pytest

from holefill.cli.configs import COMMAND_DEFAULTS, default_vgg_weights, training_config_from
from holefill.cli.flags import config_flags
from holefill.cli.main import parse_arguments
from holefill.twin.functions import REPO_ROOT

RECIPES = REPO_ROOT / "models" / "recipes"
# The flags that models/default was trained with before its recipe became a file.
CPU_FLAGS = (
    "--data ../shared/data/train --vgg-weights "
    "../shared/data/vgg16/vgg16_blocks1-3_torchvision_imagenet_hwio.npz --batch-size 8 "
    "--checkpoint-every 500 --sample-every 2500 --in-memory --loss-weight perceptual=0 "
    "--loss-weight style_out=0 --loss-weight style_comp=0"
)
MODEL_FLAGS = "--width 0.25 --depth 7 --image-size 256 --dropout 0.1 --dropout-layers 1"
GPU_FLAGS = (
    "--data ../shared/data/train256 --batch-size 32 --checkpoint-every 500 "
    "--sample-every 100000 --in-memory --workers 5 --loss-weight perceptual=0 "
    "--loss-weight style_out=0 --loss-weight style_comp=0 --loss-weight ssim=1"
)


def config(command_line):
    return training_config_from(parse_arguments(shlex.split(command_line)))


def comparable(training_config):
    # The VGG weights only matter where a loss term uses them (the GPU stages' does not).
    return dataclasses.replace(training_config, vgg_weights=None)


@pytest.mark.keras_backend
def test_unset_flags_leave_the_dataclass_and_command_defaults():
    from holefill.training.config import TrainingConfig

    parsed = config("train --data photos --output run")
    default = TrainingConfig(data_dirs=("photos",), output_dir="run")
    command_defaults = {**COMMAND_DEFAULTS["train"], "vgg_weights": str(default_vgg_weights())}
    for field in config_flags(TrainingConfig):
        expected = command_defaults.get(field, getattr(default, field))
        assert getattr(parsed, field) == expected, field
    finetune = config("finetune --from run --data photos --output tuned")
    assert finetune.steps == COMMAND_DEFAULTS["finetune"]["steps"]
    assert config("train --data p --output r --hole-ratio 0.1 0.2 --no-in-memory").hole_ratio == (
        0.1,
        0.2,
    )


@pytest.mark.keras_backend
def test_the_default_recipe_is_the_flags_the_default_model_was_trained_with():
    recipe = f"--config {RECIPES / 'default.toml'}"
    assert config(f"train {recipe} --output r --steps 500") == config(
        f"train {CPU_FLAGS} {MODEL_FLAGS} --output r --steps 500"
    )
    # finetune leaves the recipe's model flags out: its model is the checkpoint's.
    assert config(f"finetune {recipe} --from r --output f --loss-weight ssim=1") == config(
        f"finetune {CPU_FLAGS} --loss-weight ssim=1 --from r --output f"
    )
    gpu = f"{recipe} --config {RECIPES / 'default-gpu.toml'}"
    assert comparable(config(f"finetune {gpu} --from r --output g --steps 5500")) == comparable(
        config(f"finetune {GPU_FLAGS} --from r --output g --steps 5500")
    )


@pytest.mark.keras_backend
def test_config_files_yield_to_the_command_line_and_refuse_unknown_keys(tmp_path, capsys):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('data = ["a", "b"]\nbatch-size = 4\nin-memory = true\n')
    parsed = config(f"train --config {recipe} --output r --batch-size 2 --data c")
    assert (parsed.batch_size, parsed.data_dirs, parsed.in_memory) == (2, ("c",), True)
    recipe.write_text("batch-sise = 4\n")
    with pytest.raises(SystemExit):
        config(f"train --config {recipe} --output r")
    assert "'batch-sise' is not a flag of this command" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        config(f"train --config {tmp_path / 'missing.toml'} --output r")
    assert "no such file" in capsys.readouterr().err


@pytest.mark.keras_backend
def test_config_files_keep_their_values_typed_and_merge_tables_by_name(tmp_path):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        'data = ["a"]\noutput = "r"\nhole-ratio = [0.1, 0.3]\nlearning-rate = 1e-4\n'
        "mask-kind = { irregular = 3, brush = 1 }\nloss-weight = { hole = 4, tv = 0.5 }\n"
    )
    parsed = config(f"train --config {recipe} --loss-weight tv=0 --mask-kind brush=3")
    assert parsed.hole_ratio == (0.1, 0.3) and parsed.learning_rate == 1e-4
    assert (parsed.loss_weights.hole, parsed.loss_weights.tv) == (4, 0)
    assert parsed.mask_kinds == {"irregular": 3, "brush": 3}


@pytest.mark.keras_backend
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('batch-size = "eight"', "--batch-size: Input should be a valid integer"),
        ("batch-size = 7.5", "--batch-size: Input should be a valid integer"),
        ("in-memory = 3", "--in-memory: Input should be a valid boolean"),
        ("hole-ratio = [0.1]", "--hole-ratio: value 2 is missing."),
        ("loss-weight = { hol = 1 }", "--loss-weight: 'hol' is not one of ['valid', 'hole'"),
        ('loss-weight = ["hole=1"]', "--loss-weight: Input should be a dictionary"),
        ('depth = "deep"', "--depth: Input should be a valid integer"),
        ("batch-size = 0", "batch_size must be at least 1, got 0."),
    ],
)
def test_config_files_and_flags_are_checked_against_the_dataclasses(tmp_path, setting, message):
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"{setting}\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        config(f"train --config {recipe} --data a --output r")


@pytest.mark.keras_backend
def test_a_run_without_photos_or_a_folder_says_where_to_give_them():
    with pytest.raises(ValueError, match=re.escape("--data is required (on the command line")):
        config("train --output r")
    with pytest.raises(ValueError, match=re.escape("--output is required")):
        config("train --data a")
    with pytest.raises(ValueError, match="--loss-weight: 'holes' is not one of"):
        config("train --data a --output r --loss-weight holes=2")
    with pytest.raises(SystemExit):
        config("train --data a --output r --loss-weight hole")
