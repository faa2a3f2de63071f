"""Training and fine-tuning with Keras `fit`, on any Keras backend, of every architecture
(`holefill.nn.architectures`).

The losses need the mask (and the PConv loss VGG16 features), so the model that `fit`
trains wraps the generator and overrides `compute_loss`, which every backend's training
step calls (statelessly on JAX); each loss term is tracked as its own metric. The context
encoder trains against a discriminator, with its own training step
(`holefill.nn.adversarial`, TensorFlow and JAX).

One Keras "epoch" is one checkpoint interval: at its end the weights are checkpointed,
images per second and the loss terms are logged, and a sample grid is drawn.
"""

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops
from PIL import Image

from holefill.imaging.arrays import comparison_grid
from holefill.masks.generator import validate_mask_kinds
from holefill.nn.adversarial import AdversarialConfig, AdversarialTrainer
from holefill.nn.architectures import (
    RECONSTRUCTION_LOSSES,
    architecture_of,
    config_from_metadata,
)
from holefill.nn.checkpoints import (
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)
from holefill.nn.context_encoder import build_patch_discriminator
from holefill.nn.losses import BlindMAELoss, LossWeights, PConvLoss, build_vgg16_feature_extractor
from holefill.nn.models import ModelConfig, PConvUNetConfig
from holefill.training.data import InpaintingDataset
from holefill.training.device_batches import DeviceBatchSampler, build_mask_bank, load_photo_array

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# "host": `InpaintingDataset` decodes and masks each batch on the CPU; "device": the photos
# and a mask bank sit on the accelerator and each step draws its batch there
# (`holefill.training.device_batches`).
PIPELINES = ("host", "device")
STAGES = ("train", "finetune")
# What `jit_compile` says, as Keras's `compile` takes it.
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
FINETUNE_LEARNING_RATE = 5e-5  # the paper's second stage
# The adversarial style term: Gram matrices of the output's VGG16 features against the
# truth's, as the PConv loss's style_out.
STYLE_ONLY = LossWeights(valid=0, hole=0, perceptual=0, style_out=1, style_comp=0, tv=0)


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything a training or fine-tuning run depends on; saved with each checkpoint.

    `model` is the configuration of any architecture (`PConvUNetConfig`,
    `UNet3PlusConfig`, `ContextEncoderConfig`); a fine-tuning or resumed run takes it from
    its checkpoint instead. `learning_rate`, `loss` and `mask_kinds` default to the
    architecture's (`holefill.nn.architectures`); `adversarial` applies to the context encoder
    alone, `loss_weights` to the "pconv" loss alone. `max_minutes` stops the run at the
    first checkpoint after that much time, whatever `steps` says. `mask_bank_size` and
    `max_dilation` apply to the "device" pipeline alone.
    """

    data_dirs: tuple[str, ...]
    output_dir: str
    vgg_weights: str | None = None
    model: ModelConfig = dataclasses.field(
        default_factory=lambda: PConvUNetConfig(image_size=256, depth=7)
    )
    stage: str = "train"
    initial_checkpoint: str | None = None
    batch_size: int = dataclasses.field(default=6, metadata={"help": "photos per step"})
    steps: int = dataclasses.field(default=1000, metadata={"help": "total optimizer steps"})
    checkpoint_every: int = dataclasses.field(
        default=100, metadata={"help": "steps between checkpoints (and log lines)"}
    )
    sample_every: int = dataclasses.field(
        default=500, metadata={"help": "steps between sample grids"}
    )
    learning_rate: float | None = dataclasses.field(
        default=None,
        metadata={"help": "default: the architecture's for train, the paper's 5e-5 for finetune"},
    )
    loss: str | None = dataclasses.field(
        default=None,
        metadata={
            "choices": RECONSTRUCTION_LOSSES,
            "help": "reconstruction loss: the PConv paper's, or the masked L1 per hole pixel "
            "(default: the architecture's)",
        },
    )
    loss_weights: LossWeights = dataclasses.field(default_factory=LossWeights)
    mask_kinds: dict[str, float] | None = None
    adversarial: AdversarialConfig = dataclasses.field(default_factory=AdversarialConfig)
    hole_ratio: tuple[float, float] = dataclasses.field(
        default=(0.01, 0.6),
        metadata={"help": "hole ratio range of the training masks", "metavar": ("LOW", "HIGH")},
    )
    precision: str = dataclasses.field(
        default="float32", metadata={"choices": PRECISIONS, "help": "float32 or mixed precision"}
    )
    jit_compile: str = dataclasses.field(
        default="auto",
        metadata={"choices": tuple(JIT_COMPILE), "help": "XLA compilation of the training step"},
    )
    data_parallel: bool = dataclasses.field(
        default=False, metadata={"help": "split each batch over every accelerator (JAX)"}
    )
    workers: int = dataclasses.field(default=1, metadata={"help": "data-loading threads"})
    in_memory: bool = dataclasses.field(
        default=False, metadata={"help": "decode every photo once and keep it in memory"}
    )
    pipeline: str = dataclasses.field(
        default="host",
        metadata={
            "choices": PIPELINES,
            "help": "host: batches made on the CPU; device: photos and a mask bank held on "
            "the accelerator, each batch drawn inside the training step (keeps a GPU busy)",
        },
    )
    mask_bank_size: int = dataclasses.field(
        default=4000, metadata={"help": "device pipeline: masks drawn once"}
    )
    max_dilation: int = dataclasses.field(
        default=4, metadata={"help": "device pipeline: largest random dilation of a bank mask"}
    )
    max_minutes: float | None = dataclasses.field(
        default=None,
        metadata={"help": "stop at the first checkpoint after this many minutes, whatever steps"},
    )
    seed: int = 0

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}.")
        if self.stage == "finetune" and not self.initial_checkpoint:
            raise ValueError("Fine-tuning starts from a trained checkpoint: pass one.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}.")
        if self.jit_compile not in JIT_COMPILE:
            raise ValueError(
                f"jit_compile must be one of {tuple(JIT_COMPILE)}, got {self.jit_compile!r}."
            )
        if self.pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {PIPELINES}, got {self.pipeline!r}.")
        if self.pipeline == "device" and self.architecture.adversarial:
            raise ValueError(
                "The device pipeline trains the reconstruction architectures; the context "
                "encoder's adversarial step takes host batches (pipeline 'host')."
            )
        if self.loss is not None and self.loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"loss must be one of {RECONSTRUCTION_LOSSES}, got {self.loss!r}.")
        if self.mask_kinds is not None:
            validate_mask_kinds(self.mask_kinds)
        for name in ("batch_size", "steps", "checkpoint_every", "sample_every", "mask_bank_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.steps % self.checkpoint_every or self.sample_every % self.checkpoint_every:
            raise ValueError(
                f"steps ({self.steps}) and sample_every ({self.sample_every}) must be "
                f"multiples of checkpoint_every ({self.checkpoint_every})."
            )
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError(f"max_minutes must be positive, got {self.max_minutes}.")
        if self.architecture.adversarial and self.precision == "mixed_float16":
            raise ValueError(
                "Adversarial training does not scale its losses for float16: use "
                "--precision mixed_bfloat16 or float32."
            )

    @property
    def architecture(self):
        return architecture_of(self.model)

    @property
    def resolved_learning_rate(self):
        if self.learning_rate is not None:
            return self.learning_rate
        if self.stage == "finetune":
            return FINETUNE_LEARNING_RATE
        return self.architecture.learning_rate

    @property
    def resolved_loss(self):
        return self.loss or self.architecture.loss

    @property
    def resolved_mask_kinds(self):
        return self.mask_kinds or self.architecture.mask_kinds

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["learning_rate"] = self.resolved_learning_rate
        values["loss"] = self.resolved_loss
        values["mask_kinds"] = self.resolved_mask_kinds
        return values


@keras.saving.register_keras_serializable(package="holefill")
class InpaintingTrainer(keras.Model):
    """Wraps a network `{"image", "mask"} -> image` with its reconstruction loss for `fit`.

    Args:
        network: the generator, or a network with several outputs whose first is the
            generator's and the others deep-supervision heads, each held to the same loss
            (their mean is the objective). `trainer.generator` is what export and serving
            use: the first output, through the same layers.
        loss: `(truth, output, mask) -> {term: value, "total": value}` with a `terms`
            attribute (`holefill.nn.losses.PConvLoss` or `BlindMAELoss`).
    """

    def __init__(self, network, loss, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.generator = (
            network
            if len(network.outputs) == 1
            else keras.Model(network.inputs, network.outputs[0], name=network.name)
        )
        self.reconstruction_loss = loss
        self.term_trackers = [keras.metrics.Mean(name=name) for name in loss.terms]

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self._objective(y_pred, y, x["mask"])

    def _objective(self, predictions, truth, mask):
        outputs = predictions if isinstance(predictions, list | tuple) else [predictions]
        terms = [self.reconstruction_loss(truth, output, mask) for output in outputs]
        for tracker in self.term_trackers:
            tracker.update_state(terms[0][tracker.name])
        total = sum(head["total"] for head in terms) / len(terms)
        # Weight decay (UNet3+'s L2), which a compute_loss of one's own must add itself.
        for penalty in self.losses:
            total = total + ops.cast(penalty, "float32")
        return total

    @property
    def metrics(self):
        own = {id(tracker) for tracker in self.term_trackers}
        inherited = [metric for metric in super().metrics if id(metric) not in own]
        return [*inherited, *self.term_trackers]

    def checkpoint_variables(self):
        """`{group: variables}` that a checkpoint holds; "model" is the generator."""
        generator_ids = {id(variable) for variable in self.generator.weights}
        heads = [variable for variable in self.network.weights if id(variable) not in generator_ids]
        groups = {"model": self.generator.weights, "optimizer": self.optimizer.variables}
        if heads:
            groups["supervision_heads"] = heads
        return groups


@keras.saving.register_keras_serializable(package="holefill")
class DeviceBatchTrainer(InpaintingTrainer):
    """An `InpaintingTrainer` whose every step draws its own batch with `sampler` (a
    `holefill.training.device_batches.DeviceBatchSampler`), inside the compiled step.

    `fit` takes placeholder batches (`PlaceholderBatches`): they only count the steps.
    """

    def __init__(self, network, loss, sampler, **kwargs):
        super().__init__(network, loss, **kwargs)
        self.sampler = sampler

    def call(self, inputs, training=False):
        batch, truth = self.sampler.draw()
        return self.network(batch, training=training), truth, batch["mask"]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self._objective(*y_pred)


class PlaceholderBatches(keras.utils.PyDataset):
    """`steps` tiny constant batches: what `fit` iterates over for a `DeviceBatchTrainer`."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.placeholder = np.zeros((1, 1), np.float32)

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return (self.placeholder,)


def build_trainer(model_config, config, sampler=None):
    """The compiled trainer of `model_config`'s architecture for the run `config`, its
    optimizer variables created (a checkpoint can be restored into it at once); with a
    `sampler`, a `DeviceBatchTrainer` that draws its batches with it."""
    architecture = architecture_of(model_config)
    loss = config.resolved_loss
    style = architecture.adversarial and config.adversarial.style_weight
    feature_extractor = None
    if (loss == "pconv" and config.loss_weights.uses_features) or style:
        if not config.vgg_weights or not Path(config.vgg_weights).is_file():
            raise ValueError(
                "The perceptual and style terms need VGG16 weights: pass vgg_weights, "
                "the .npz that `holefill fetch-vgg` writes (got "
                f"{config.vgg_weights!r}), or set those terms' weights to 0."
            )
        feature_extractor = build_vgg16_feature_extractor(config.vgg_weights)
    reconstruction = (
        PConvLoss(feature_extractor, config.loss_weights) if loss == "pconv" else BlindMAELoss()
    )
    clip_norm = config.adversarial.gradient_clip_norm if architecture.adversarial else None
    # A fixed name keeps optimizer variable paths, the checkpoint keys, stable. The
    # context encoder's Adam is the course project's (beta_1 0.5, as GANs commonly use).
    optimizer = keras.optimizers.Adam(
        config.resolved_learning_rate,
        beta_1=0.5 if architecture.adversarial else 0.9,
        global_clipnorm=clip_norm,
        name="adam",
    )
    if architecture.adversarial:
        trainer = AdversarialTrainer(
            architecture.build(model_config),
            build_patch_discriminator(model_config),
            reconstruction,
            keras.optimizers.SGD(
                config.adversarial.discriminator_learning_rate,
                global_clipnorm=clip_norm,
                name="discriminator_sgd",
            ),
            adversarial=config.adversarial,
            style_loss=PConvLoss(feature_extractor, STYLE_ONLY) if style else None,
        )
    else:
        network = (architecture.build_for_training or architecture.build)(model_config)
        trainer = (
            InpaintingTrainer(network, reconstruction)
            if sampler is None
            else DeviceBatchTrainer(network, reconstruction, sampler)
        )
    if config.stage == "finetune":
        architecture.freeze_for_finetune(trainer.generator)
    trainer.compile(optimizer=optimizer, jit_compile=JIT_COMPILE[config.jit_compile])
    # The compiled optimizer trains the generator (and its supervision heads); the
    # discriminator has its own.
    trainer.optimizer.build(
        trainer.generator.trainable_variables
        if architecture.adversarial
        else trainer.trainable_variables
    )
    return trainer


def train(config):
    """Runs (or resumes) a training or fine-tuning run; returns the final checkpoint folder."""
    output_dir = Path(config.output_dir)
    checkpoint_dir = output_dir / "checkpoints"
    keras.config.set_dtype_policy(config.precision)
    keras.utils.set_random_seed(config.seed)
    if config.data_parallel:
        _use_all_devices()

    resume_from = latest_checkpoint(checkpoint_dir)
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
                f"{output_dir} holds a {metadata.get('stage')!r} run; use another output "
                f"folder for the {config.stage!r} stage."
            )
    architecture = architecture_of(model_config)
    if config.stage == "train" and architecture is not config.architecture:
        raise ValueError(
            f"{output_dir} holds a {architecture.name} run, not a {config.architecture.name} "
            f"one: pass --arch {architecture.name} to resume it, or use another output folder."
        )
    if config.stage == "finetune" and architecture.freeze_for_finetune is None:
        raise ValueError(
            f"Fine-tuning does not apply to {architecture.name}: it is the second stage of "
            "the PConv U-Net, which freezes the encoder batch norm that hole pixels skew. "
            f"Train a {architecture.name} run longer instead: `holefill train --arch "
            f"{architecture.name} --output RUN --steps MORE` resumes it."
        )

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
        if architecture.adversarial:
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


def restore(trainer, folder, *, with_training_state):
    """Loads a checkpoint's generator weights and, `with_training_state`, everything else
    the trainer checkpoints (optimizers, discriminator, supervision heads); returns its
    step."""
    step, _, groups = load_checkpoint(folder)
    for group, variables in trainer.checkpoint_variables().items():
        if group == "model" or with_training_state:
            _assign(variables, groups.get(group, {}), f"{folder} ({group})")
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
            group: _values(variables)
            for group, variables in self.model.checkpoint_variables().items()
        }
        save_checkpoint(self.directory, step, groups, self.metadata)


class TimeLimit(keras.callbacks.Callback):
    """Stops training at the end of the first epoch (checkpoint) after `minutes`."""

    def __init__(self, minutes):
        super().__init__()
        self.seconds = minutes * 60

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.started >= self.seconds:
            self.model.stop_training = True


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
