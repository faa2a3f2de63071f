"""Training and fine-tuning of the PConv U-Net with Keras `fit`, on any Keras backend.

The loss needs the mask and VGG16 features, so the model that `fit` trains wraps the U-Net
and overrides `compute_loss`, which every backend's training step calls (statelessly on
JAX); each loss term is tracked as its own metric.

One Keras "epoch" is one checkpoint interval: at its end the weights are checkpointed,
images per second and the loss terms are logged, and a sample grid is drawn.
"""

import dataclasses
import json
import logging
import time
from pathlib import Path

import keras
from PIL import Image

from holefill.checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from holefill.data import InpaintingDataset
from holefill.imaging import comparison_grid
from holefill.losses import LOSS_TERMS, LossWeights, PConvLoss, build_vgg16_feature_extractor
from holefill.models import PConvUNetConfig, build_pconv_unet, set_encoder_batch_norm_frozen

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
STAGES = {"train": 2e-4, "finetune": 5e-5}  # stage -> the paper's learning rate


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything a training or fine-tuning run depends on; saved with each checkpoint."""

    data_dirs: tuple[str, ...]
    output_dir: str
    vgg_weights: str
    model: PConvUNetConfig = dataclasses.field(
        default_factory=lambda: PConvUNetConfig(image_size=256, depth=7)
    )
    stage: str = "train"
    initial_checkpoint: str | None = None
    batch_size: int = 6
    steps: int = 1000
    checkpoint_every: int = 100
    sample_every: int = 500
    learning_rate: float | None = None
    loss_weights: LossWeights = dataclasses.field(default_factory=LossWeights)
    hole_ratio: tuple[float, float] = (0.01, 0.6)
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    data_parallel: bool = False
    workers: int = 1
    in_memory: bool = False
    seed: int = 0

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {sorted(STAGES)}, got {self.stage!r}.")
        if self.stage == "finetune" and not self.initial_checkpoint:
            raise ValueError("Fine-tuning starts from a trained checkpoint: pass one.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}.")
        for name in ("batch_size", "steps", "checkpoint_every", "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.steps % self.checkpoint_every or self.sample_every % self.checkpoint_every:
            raise ValueError(
                f"steps ({self.steps}) and sample_every ({self.sample_every}) must be "
                f"multiples of checkpoint_every ({self.checkpoint_every})."
            )

    @property
    def resolved_learning_rate(self):
        return self.learning_rate if self.learning_rate is not None else STAGES[self.stage]

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["learning_rate"] = self.resolved_learning_rate
        return values


@keras.saving.register_keras_serializable(package="holefill")
class InpaintingTrainer(keras.Model):
    """Wraps a U-Net `{"image", "mask"} -> image` with the paper's loss for `fit`."""

    def __init__(self, generator, loss, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.pconv_loss = loss
        self.term_trackers = [keras.metrics.Mean(name=name) for name in LOSS_TERMS]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        terms = self.pconv_loss(y, y_pred, x["mask"])
        for tracker in self.term_trackers:
            tracker.update_state(terms[tracker.name])
        return terms["total"]

    @property
    def metrics(self):
        own = {id(tracker) for tracker in self.term_trackers}
        inherited = [metric for metric in super().metrics if id(metric) not in own]
        return [*inherited, *self.term_trackers]


def train(config):
    """Runs (or resumes) a training or fine-tuning run; returns the final checkpoint folder."""
    output_dir = Path(config.output_dir)
    checkpoint_dir = output_dir / "checkpoints"
    keras.config.set_dtype_policy(config.precision)
    keras.utils.set_random_seed(config.seed)
    if config.data_parallel:
        _use_all_devices()

    resume_from = latest_checkpoint(checkpoint_dir)
    model_config = config.model
    if resume_from is None and config.initial_checkpoint:
        _, metadata, _ = load_checkpoint(resolve_checkpoint(config.initial_checkpoint))
        model_config = PConvUNetConfig.from_dict(metadata["model"])
    elif resume_from is not None:
        _, metadata, _ = load_checkpoint(resume_from)
        model_config = PConvUNetConfig.from_dict(metadata["model"])
        if metadata.get("stage") != config.stage:
            raise ValueError(
                f"{output_dir} holds a {metadata.get('stage')!r} run; use another output "
                f"folder for the {config.stage!r} stage."
            )

    generator = build_pconv_unet(model_config)
    if config.stage == "finetune":
        # The paper's second stage: hole pixels no longer pollute encoder statistics.
        set_encoder_batch_norm_frozen(generator)
    loss = PConvLoss(build_vgg16_feature_extractor(config.vgg_weights), config.loss_weights)
    trainer = InpaintingTrainer(generator, loss)
    trainer.compile(
        # A fixed name keeps optimizer variable paths, the checkpoint keys, stable.
        optimizer=keras.optimizers.Adam(config.resolved_learning_rate, name="adam"),
        jit_compile=config.jit_compile,
    )
    trainer.optimizer.build(trainer.trainable_variables)

    step = 0
    if resume_from is not None:
        step = restore(trainer, resume_from, with_optimizer=True)
        # The learning rate is optimizer state too; the one asked for now wins.
        trainer.optimizer.learning_rate.assign(config.resolved_learning_rate)
        logger.info("Resuming %s from step %d (%s).", config.stage, step, resume_from)
    elif config.initial_checkpoint:
        restore(trainer, resolve_checkpoint(config.initial_checkpoint), with_optimizer=False)
    if step >= config.steps:
        logger.info("%s already reached step %d of %d.", output_dir, step, config.steps)
        return resume_from

    dataset = InpaintingDataset(
        [Path(folder) for folder in config.data_dirs],
        image_size=model_config.image_size,
        batch_size=config.batch_size,
        steps_per_epoch=config.checkpoint_every,
        hole_ratio=config.hole_ratio,
        in_memory=config.in_memory,
        seed=config.seed + step,
        workers=config.workers,
        use_multiprocessing=config.workers > 1,
    )
    sample_inputs, sample_truth = InpaintingDataset(
        [Path(folder) for folder in config.data_dirs],
        image_size=model_config.image_size,
        batch_size=4,
        steps_per_epoch=1,
        hole_ratio=config.hole_ratio,
        seed=config.seed + 1_000_003,
    )[0]

    metadata = {
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
    trainer.fit(
        dataset,
        epochs=config.steps // config.checkpoint_every,
        initial_epoch=step // config.checkpoint_every,
        callbacks=callbacks,
        verbose=1,
    )
    return latest_checkpoint(checkpoint_dir)


def restore(trainer, folder, *, with_optimizer):
    """Loads a checkpoint's U-Net weights (and optimizer state); returns its step."""
    step, _, groups = load_checkpoint(folder)
    _assign(trainer.generator.weights, groups["model"], f"{folder} (model)")
    if with_optimizer:
        _assign(trainer.optimizer.variables, groups["optimizer"], f"{folder} (optimizer)")
    return step


def _assign(variables, arrays, source):
    by_path = {variable.path: variable for variable in variables}
    missing = sorted(set(by_path) - set(arrays))
    unexpected = sorted(set(arrays) - set(by_path))
    if missing or unexpected:
        raise ValueError(
            f"{source} does not match the model: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}."
        )
    for path, variable in by_path.items():
        if tuple(arrays[path].shape) != tuple(variable.shape):
            raise ValueError(
                f"{source}: {path} has shape {arrays[path].shape}, "
                f"the model expects {variable.shape}."
            )
        variable.assign(arrays[path])


def _use_all_devices():
    devices = keras.distribution.list_devices()
    if keras.backend.backend() != "jax":
        raise ValueError("--data-parallel needs the JAX backend (KERAS_BACKEND=jax).")
    logger.info("Data parallel over %d devices: %s", len(devices), devices)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))


class ThroughputMeter(keras.callbacks.Callback):
    """Adds `images_per_second` to the logs, timed from each epoch's first finished step.

    Starting the clock after the first step leaves compilation out of the figure.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.steps = None, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.started is None:
            self.started = time.perf_counter()
        else:
            self.steps += 1

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.started
        if logs is not None and self.steps:
            logs["images_per_second"] = self.steps * self.batch_size / elapsed


class CheckpointWriter(keras.callbacks.Callback):
    def __init__(self, directory, metadata):
        super().__init__()
        self.directory = directory
        self.metadata = metadata

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        groups = {
            "model": _values(self.model.generator.weights),
            "optimizer": _values(self.model.optimizer.variables),
        }
        save_checkpoint(self.directory, step, groups, self.metadata)


class SampleGridWriter(keras.callbacks.Callback):
    """Every `every` steps, a PNG with rows of input, mask, output and truth."""

    def __init__(self, directory, inputs, truth, every):
        super().__init__()
        self.directory = Path(directory)
        self.inputs = inputs
        self.truth = truth
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.every:
            return
        output = keras.ops.convert_to_numpy(
            keras.ops.cast(self.model.generator(self.inputs, training=False), "float32")
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        grid = comparison_grid(self.inputs["image"], self.inputs["mask"], [output], self.truth)
        Image.fromarray(grid).save(self.directory / f"step-{step:08d}.png")


class TensorBoardWriter(keras.callbacks.Callback):
    """Scalars of every epoch for TensorBoard, without needing TensorFlow (tensorboardX)."""

    def __init__(self, directory):
        super().__init__()
        self.directory = str(directory)
        self.writer = None

    def on_train_begin(self, logs=None):
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(self.directory)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        for name, value in (logs or {}).items():
            self.writer.add_scalar(name, float(value), step)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


def _values(variables):
    return {variable.path: keras.ops.convert_to_numpy(variable.value) for variable in variables}
