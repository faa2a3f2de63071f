"""Training and fine-tuning with Keras `fit`, on any Keras backend, of every architecture
(`holefill.nn.architectures`): a run resumes from its last checkpoint, or starts from
another run's weights.

One Keras "epoch" is one checkpoint interval (`holefill.training.callbacks`).
"""

import json
import logging
import sys
import time
from pathlib import Path

import keras

from holefill.nn.architectures import (
    architecture_of,
    config_from_metadata,
)
from holefill.nn.checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
)
from holefill.training.callbacks import (
    CheckpointWriter,
    SampleGridWriter,
    TensorBoardWriter,
    ThroughputMeter,
    TimeLimit,
)
from holefill.training.data import InpaintingDataset
from holefill.training.device_batches import DeviceBatchSampler, build_mask_bank, load_photo_array
from holefill.training.trainers import PlaceholderBatches, build_trainer, restore

logger = logging.getLogger(__name__)


def train(config):
    """Runs (or resumes) a training or fine-tuning run; returns the final checkpoint folder."""
    output_dir = Path(config.output_dir)
    checkpoint_dir = output_dir / "checkpoints"
    keras.config.set_dtype_policy(config.precision)
    keras.utils.set_random_seed(config.seed)
    if config.data_parallel:
        _use_all_devices()

    resume_from = latest_checkpoint(checkpoint_dir)
    model_config, resumed_step = _model_of_run(config, resume_from)
    architecture = architecture_of(model_config)

    sampler = None
    if config.pipeline == "device":
        # Each resumed run draws a fresh sequence, as the host batches do.
        sampler = build_sampler(config, model_config.image_size, seed=config.seed + resumed_step)
    trainer = build_trainer(model_config, config, sampler)
    step = 0
    if resume_from is not None:
        step = restore(trainer, resume_from, with_training_state=True)
        # The learning rates are optimizer state too; the ones asked for now win.
        trainer.optimizer.learning_rate.assign(config.resolved_learning_rate)
        if architecture.defaults.adversarial:
            trainer.discriminator_optimizer.learning_rate.assign(
                config.adversarial.discriminator_learning_rate
            )
        logger.info("Resuming %s from step %d (%s).", config.stage, step, resume_from)
    elif config.initial_checkpoint:
        restore(trainer, resolve_checkpoint(config.initial_checkpoint), with_training_state=False)
    if step >= config.steps:
        logger.info("%s already reached step %d of %d.", output_dir, step, config.steps)
        return resume_from

    if sampler is None:
        dataset = host_batches(config, model_config.image_size, seed=config.seed + step)
    else:
        dataset = PlaceholderBatches(config.checkpoint_every)
    sample_inputs, sample_truth = InpaintingDataset(
        [Path(folder) for folder in config.data_dirs],
        image_size=model_config.image_size,
        batch_size=4,
        steps_per_epoch=1,
        hole_ratio=config.hole_ratio,
        mask_kinds=config.resolved_mask_kinds,
        seed=config.seed + 1_000_003,
    )[0]

    metadata = {
        "architecture": architecture.name,
        "model": model_config.to_dict(),
        "stage": config.stage,
        "training": config.to_dict(),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "config.json").write_text(json.dumps(metadata, indent=1, default=str))
    callbacks = [
        ThroughputMeter(config.batch_size),
        CheckpointWriter(checkpoint_dir, metadata),
        SampleGridWriter(output_dir / "samples", sample_inputs, sample_truth, config.sample_every),
        TensorBoardWriter(output_dir / "logs"),
    ]
    if config.max_minutes:
        callbacks.append(TimeLimit(config.max_minutes))
    trainer.fit(
        dataset,
        epochs=config.steps // config.checkpoint_every,
        initial_epoch=step // config.checkpoint_every,
        callbacks=callbacks,
        # A progress bar where someone watches; one line per checkpoint in a log file.
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return latest_checkpoint(checkpoint_dir)


def _model_of_run(config, resume_from):
    """`(model configuration, step)` of the run: the checkpoint's it resumes from or starts
    from (`initial_checkpoint`), else the config's; refuses a checkpoint of another stage
    or architecture, and fine-tuning an architecture that has no second stage."""
    resumed_step = 0
    model_config = config.model
    if resume_from is None and config.initial_checkpoint:
        _, metadata, _ = load_checkpoint(resolve_checkpoint(config.initial_checkpoint))
        model_config = config_from_metadata(metadata)
    elif resume_from is not None:
        resumed_step, metadata, _ = load_checkpoint(resume_from)
        model_config = config_from_metadata(metadata)
        if metadata.get("stage") != config.stage:
            raise ValueError(
                f"{config.output_dir} holds a {metadata.get('stage')!r} run; use another "
                f"output folder for the {config.stage!r} stage."
            )
    architecture = architecture_of(model_config)
    if config.stage == "train" and architecture.name != config.architecture_name:
        raise ValueError(
            f"{config.output_dir} holds a {architecture.name} run, not a "
            f"{config.architecture_name} one: pass --arch {architecture.name} to resume it, "
            "or use another output folder."
        )
    if config.stage == "finetune" and architecture.freeze_for_finetune is None:
        raise ValueError(
            f"Fine-tuning does not apply to {architecture.name}: it is the second stage of "
            "the PConv U-Net, which freezes the encoder batch norm that hole pixels skew. "
            f"Train a {architecture.name} run longer instead: `holefill train --arch "
            f"{architecture.name} --output RUN --steps MORE` resumes it."
        )
    return model_config, resumed_step


def host_batches(config, image_size, *, seed):
    """The `InpaintingDataset` of a "host" pipeline run: one epoch per checkpoint."""
    return InpaintingDataset(
        [Path(folder) for folder in config.data_dirs],
        image_size=image_size,
        batch_size=config.batch_size,
        steps_per_epoch=config.checkpoint_every,
        hole_ratio=config.hole_ratio,
        mask_kinds=config.resolved_mask_kinds,
        in_memory=config.in_memory,
        seed=seed,
        workers=config.workers,
        # Threads, not processes: forking a process that runs JAX can deadlock (JAX warns
        # so), and a process pool pickles every batch, tens of MB of float32, through a pipe.
        use_multiprocessing=False,
    )


def build_sampler(config, image_size, *, seed):
    """The `DeviceBatchSampler` of a "device" pipeline run: its photos decoded and its
    mask bank drawn (in the run's hole-ratio range and mask kinds) once, here."""
    started = time.perf_counter()
    photos = load_photo_array([Path(folder) for folder in config.data_dirs], image_size=image_size)
    bank = build_mask_bank(
        config.mask_bank_size,
        size=image_size,
        kinds=config.resolved_mask_kinds,
        hole_ratio=config.hole_ratio,
        seed=config.seed,
    )
    logger.info(
        "Device pipeline: %d photos of %d px and %d masks of %d px (%.0f MB) in %.1f s.",
        len(photos),
        photos.shape[1],
        len(bank),
        image_size,
        (photos.nbytes + bank.nbytes) / 1e6,
        time.perf_counter() - started,
    )
    return DeviceBatchSampler(
        photos,
        bank,
        batch_size=config.batch_size,
        hole_ratio=config.hole_ratio,
        max_dilation=config.max_dilation,
        seed=seed,
    )


def _use_all_devices():
    devices = keras.distribution.list_devices()
    if keras.backend.backend() != "jax":
        raise ValueError("--data-parallel needs the JAX backend (KERAS_BACKEND=jax).")
    logger.info("Data parallel over %d devices: %s", len(devices), devices)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
