"""A training or fine-tuning run's settings, as one frozen dataclass (its fields are the
flags of `holefill train` and `finetune`, `holefill.cli.flags`)."""

import dataclasses

from holefill.masks.generator import validate_mask_kinds
from holefill.nn.config import (
    RECONSTRUCTION_LOSSES,
    TRAINING_DEFAULTS,
    AdversarialConfig,
    LossWeights,
    ModelConfig,
    PConvUNetConfig,
    architecture_name_of,
)

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# "host": `InpaintingDataset` decodes and masks each batch on the CPU; "device": the photos
# and a mask bank sit on the accelerator and each step draws its batch there
# (`holefill.training.device_batches`).
PIPELINES = ("host", "device")
STAGES = ("train", "finetune")
# What `jit_compile` says, as Keras's `compile` takes it.
JIT_COMPILE = {"auto": "auto", "on": True, "off": False}
FINETUNE_LEARNING_RATE = 5e-5  # the paper's second stage


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Everything a training or fine-tuning run depends on; saved with each checkpoint.

    `model` is the configuration of any architecture (`PConvUNetConfig`,
    `UNet3PlusConfig`, `ContextEncoderConfig`); a fine-tuning or resumed run takes it from
    its checkpoint instead. `learning_rate`, `loss` and `mask_kinds` default to the
    architecture's (`holefill.nn.config.TRAINING_DEFAULTS`); `adversarial` applies to the
    context encoder alone, `loss_weights` to the "pconv" loss alone. `max_minutes` stops the
    run at the first checkpoint after that much time, whatever `steps` says.
    `mask_bank_size` and `max_dilation` apply to the "device" pipeline alone.
    """

    data_dirs: tuple[str, ...] = dataclasses.field(
        metadata={
            "help": "folder of training photos (repeatable)",
            "flag": "--data",
            "metavar": "FOLDER",
        }
    )
    output_dir: str = dataclasses.field(
        metadata={
            "help": "run folder: checkpoints, logs, samples; an existing run resumes",
            "flag": "--output",
            "metavar": "FOLDER",
        }
    )
    vgg_weights: str | None = dataclasses.field(
        default=None,
        metadata={"help": "VGG16 blocks 1-3 .npz (default: the one `fetch-vgg` writes)"},
    )
    # The paper's network; `holefill train` trains a smaller one by default (its
    # TRAIN_MODEL_DEFAULTS), and the default model's recipe is models/recipes/default.toml.
    model: ModelConfig = dataclasses.field(default_factory=PConvUNetConfig)
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
    loss_weights: LossWeights = dataclasses.field(
        default_factory=LossWeights,
        metadata={
            "help": "one weight of the pconv loss, e.g. hole=6 (repeatable)",
            "flag": "--loss-weight",
            "metavar": "TERM=VALUE",
        },
    )
    mask_kinds: dict[str, float] | None = dataclasses.field(
        default=None,
        metadata={
            "help": "training masks: irregular, random_blocks, region, brush, centre_block "
            "with relative weights (repeatable; default: the architecture's)",
            "flag": "--mask-kind",
            "metavar": "KIND=WEIGHT",
        },
    )
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
        default=4000, metadata={"help": "device pipeline: masks drawn once", "flag": "--mask-bank"}
    )
    max_dilation: int = dataclasses.field(
        default=4, metadata={"help": "device pipeline: largest random dilation of a bank mask"}
    )
    max_minutes: float | None = dataclasses.field(
        default=None,
        metadata={"help": "stop at the first checkpoint after this many minutes, whatever steps"},
    )
    seed: int = dataclasses.field(
        default=0, metadata={"help": "seeds the weights, the photos' order and the masks"}
    )

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
        if self.pipeline == "device" and self.defaults.adversarial:
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
        if self.defaults.adversarial and self.precision == "mixed_float16":
            raise ValueError(
                "Adversarial training does not scale its losses for float16: use "
                "--precision mixed_bfloat16 or float32."
            )

    @property
    def architecture_name(self):
        return architecture_name_of(self.model)

    @property
    def defaults(self):
        """The `TrainingDefaults` of the model's architecture."""
        return TRAINING_DEFAULTS[self.architecture_name]

    @property
    def resolved_learning_rate(self):
        if self.learning_rate is not None:
            return self.learning_rate
        if self.stage == "finetune":
            return FINETUNE_LEARNING_RATE
        return self.defaults.learning_rate

    @property
    def resolved_loss(self):
        return self.loss or self.defaults.loss

    @property
    def resolved_mask_kinds(self):
        return self.mask_kinds or self.defaults.mask_kinds

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["learning_rate"] = self.resolved_learning_rate
        values["loss"] = self.resolved_loss
        values["mask_kinds"] = self.resolved_mask_kinds
        return values
