"""Where a model's weights came from and how good they are: the card's record sections.

`holefill card` adds them to an exported model's `model.json` (`holefill.card` lists the
rest of the card):

    training {
        stages: one per run, oldest first (train, then finetune), each with the run's
            settings (`TrainingConfig`), the step it reached, its median images per second
            and its seconds of training steps (both from the run's TensorBoard logs),
        data {folders, terms}, hardware
    }
    evaluation {"<size>": the `EvaluationResult` of `holefill evaluate` at that crop size,
                with "uncertainty" (its `UncertaintyResult`) when it was measured and
                "quality_bar" (whether the model beat every other method on PSNR and SSIM
                in every bucket from (10%,20%] up)}
    recorded (the UTC date the card was written)

The weights inherit the terms of their training data, so the card carries them.
"""

import datetime
import json
import statistics
import struct
from pathlib import Path

from holefill.card import FillSection, read_card, write_card
from holefill.evaluation.evaluate import (
    JSON_FILENAME,
    UNCERTAINTY_FILENAME,
    EvaluationResult,
    beats_every_bucket,
)
from holefill.inference.synthesis import fill_record
from holefill.nn.checkpoints import load_checkpoint, resolve_checkpoint

# What the default model's card must show: the quality bar of the default-model issue.
QUALITY_BAR_METRICS = ("psnr", "ssim")


def training_stages(checkpoint):
    """The settings and speed of every run behind `checkpoint`, oldest first, following
    each fine-tuning run back to the checkpoint it started from (and through an exported
    model's slim weights, to the runs its card recorded)."""
    stages = []
    folder = resolve_checkpoint(checkpoint)
    while folder is not None:
        step, metadata, _ = load_checkpoint(folder)
        if "stages_before" in metadata:
            # `holefill slim` of an exported model: the runs its card recorded.
            stages.extend(metadata["stages_before"][::-1])
            break
        # A fine-tuning run's own settings hold a placeholder network: it takes the one of
        # the run it starts from, which its checkpoints record.
        settings = {**metadata.get("training", {}), "model": metadata.get("model")}
        run_dir = Path(folder).parent.parent
        stages.append(
            {
                "stage": metadata.get("stage"),
                "run": str(run_dir),
                "step": step,
                **_speed(run_dir / "logs", settings),
                "settings": settings,
            }
        )
        initial = settings.get("initial_checkpoint")
        folder = resolve_checkpoint(initial) if initial else None
    return stages[::-1]


def record_in_card(model_dir, *, data_terms, hardware, evaluations):
    """Writes the training, evaluation, fill and date sections into `model_dir`'s card.

    Args:
        model_dir: an exported model folder.
        data_terms: the licence terms of the training photos, which the weights inherit.
        hardware: what the training ran on.
        evaluations: crop size -> a folder written by `holefill evaluate` for this model.

    Returns:
        The updated card.
    """
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    checkpoint = card.source.checkpoint
    if not checkpoint:
        raise ValueError(f"{model_dir}'s card does not say which checkpoint it was exported from.")
    stages = training_stages(checkpoint)
    folders = sorted({folder for stage in stages for folder in stage["settings"]["data_dirs"]})
    card = card.model_copy(
        update={
            "training": {
                "stages": stages,
                "data": {"folders": folders, "terms": data_terms},
                "hardware": hardware,
            },
            "evaluation": {str(size): _evaluation(folder) for size, folder in evaluations.items()},
            "fill": FillSection.model_validate(fill_record()),
            "recorded": datetime.datetime.now(datetime.UTC).date().isoformat(),
        }
    )
    write_card(model_dir, card)
    return card


def _evaluation(folder):
    folder = Path(folder)
    path = folder / JSON_FILENAME
    if not path.is_file():
        raise ValueError(f"{folder} has no {JSON_FILENAME}: pass a `holefill evaluate` output.")
    values = json.loads(path.read_text())
    if "holefill" not in values["methods"]:
        raise ValueError(f"{path} has no 'holefill' column: evaluate with --model.")
    record = {
        **values,
        "quality_bar": beats_every_bucket(
            EvaluationResult(**values), "holefill", metrics=QUALITY_BAR_METRICS
        ),
    }
    uncertainty = folder / UNCERTAINTY_FILENAME
    if uncertainty.is_file():
        record["uncertainty"] = json.loads(uncertainty.read_text())
    return record


def _speed(log_dir, settings):
    """Median images per second and the hours spent in training steps, from the rates
    that `ThroughputMeter` logged once per epoch (`checkpoint_every` steps)."""
    rates = [value for tag, value in _scalars(log_dir) if tag == "images_per_second"]
    if not rates:
        return {"images_per_second": None, "training_hours": None}
    images_per_epoch = settings["checkpoint_every"] * settings["batch_size"]
    return {
        "images_per_second": round(statistics.median(rates), 2),
        # Compilation and data loading before each epoch's first step are left out.
        "training_hours": round(sum(images_per_epoch / rate for rate in rates) / 3600, 3),
    }


def _scalars(log_dir):
    """(tag, value) of every scalar in a folder of TensorBoard event files, oldest file first.

    The files are TFRecords of `Event` protos; tensorboardX, which wrote them, has the
    proto classes but no reader.
    """
    from tensorboardX.proto.event_pb2 import Event

    for path in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset + 12 <= len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            record = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            if len(record) < length:
                break  # A run still writing: its last record is incomplete.
            event = Event.FromString(record)
            for value in event.summary.value:
                yield value.tag, value.simple_value
