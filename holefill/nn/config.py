"""The networks' configurations and the weights of their losses, as plain data: frozen
dataclasses that checkpoints and model cards store as dicts, importable without Keras (the
command line, the model card and the tests read them before any network is built)."""

import dataclasses

from holefill.nn.checkpoints import MAX_SHARD_BYTES

PAPER_ENCODER_CHANNELS = (64, 128, 256, 512, 512, 512, 512, 512)
PAPER_ENCODER_KERNELS = (7, 5, 5, 3, 3, 3, 3, 3)


class ModelConfig:
    """What the frozen configuration dataclasses of every architecture share.

    A configuration is stored in checkpoints and model cards as a dict. Architectures
    whose input size is free need it to be a multiple of their total stride, 2**depth;
    one with a fixed size overrides `validate_input_size`.
    """

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} fields: {sorted(unknown)}.")
        return cls(**values)

    def validate_input_size(self, size, name="input size"):
        """Raises ValueError unless the network runs on `size` x `size` inputs."""
        stride = 2**self.depth
        if size < stride or size % stride:
            raise ValueError(
                f"{name} must be a multiple of 2**depth = {stride} (depth {self.depth}), "
                f"got {size}."
            )


@dataclasses.dataclass(frozen=True)
class PConvUNetConfig(ModelConfig):
    """What defines a PConv U-Net; stored in checkpoints and model cards.

    Attributes:
        image_size: side of the square training input; any multiple of 2**depth. The
            network is fully convolutional, so it also runs on other multiples.
        depth: number of stride-2 encoder layers (the paper uses 8 at 512 px).
        width: multiplier of every channel count except the 3 output channels.
        dropout_rate: dropout on the inputs of the last `dropout_layers` decoder layers,
            kept active at inference for Monte-Carlo uncertainty; 0 disables it.
        dropout_layers: how many decoder layers, counted from the output, get dropout. Only
            the layers after the first dropout must be re-run per Monte-Carlo sample. The
            default, 1, makes that the last partial convolution alone, a small share of a
            pass (docs/MEASUREMENTS.md, "Monte-Carlo dropout").
    """

    image_size: int = dataclasses.field(
        default=512, metadata={"help": "side of the square training input"}
    )
    depth: int = dataclasses.field(default=8, metadata={"help": "stride-2 steps of the encoder"})
    width: float = dataclasses.field(default=1.0, metadata={"help": "channel multiplier"})
    dropout_rate: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "dropout rate of the last decoder layers (Monte-Carlo uncertainty)",
            "flag": "--dropout",
        },
    )
    dropout_layers: int = dataclasses.field(
        default=1, metadata={"help": "decoder layers with dropout, from the output"}
    )

    def __post_init__(self):
        if self.depth < 2:
            raise ValueError(f"depth must be at least 2, got {self.depth}.")
        self.validate_input_size(self.image_size, "image_size")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width}.")
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}.")
        if not 1 <= self.dropout_layers <= self.depth:
            raise ValueError(
                f"dropout_layers must be between 1 and depth ({self.depth}), "
                f"got {self.dropout_layers}."
            )

    @property
    def encoder_channels(self):
        paper = PAPER_ENCODER_CHANNELS + (512,) * max(0, self.depth - 8)
        return tuple(max(4, round(channels * self.width)) for channels in paper[: self.depth])

    @property
    def encoder_kernels(self):
        return (PAPER_ENCODER_KERNELS + (3,) * max(0, self.depth - 8))[: self.depth]


INTERPOLATIONS = ("bilinear", "nearest")


@dataclasses.dataclass(frozen=True)
class UNet3PlusConfig(ModelConfig):
    """What defines a UNet3+; stored in checkpoints and model cards.

    The defaults are BlindPaint's, but for the image size.

    Attributes:
        image_size: side of the square training input; any multiple of 2**depth (the
            network is fully convolutional and also runs on other multiples).
        depth: number of max-pool steps; the network has depth + 1 levels.
        filters: channels of the first level, doubled at each level below; also the
            channels of every skip path, so a decoder level has (depth + 1) * filters.
        kernel_size: side of every convolution's kernel (odd).
        dropout_rate: dropout after every encoder pool and on every resized skip path,
            kept active at inference for Monte-Carlo uncertainty; 0 disables it.
        interpolation: how skip paths and supervision heads are upsampled, "bilinear" or
            "nearest".
        l2: L2 weight decay on every convolution kernel; 0 disables it.
        deep_supervision: whether training also holds a head on every lower decoder level
            and on the bottleneck to the loss (the served network has the main head only).
    """

    image_size: int = dataclasses.field(
        default=256, metadata={"help": "side of the square training input"}
    )
    depth: int = dataclasses.field(default=4, metadata={"help": "stride-2 steps of the encoder"})
    filters: int = dataclasses.field(default=32, metadata={"help": "channels of the first level"})
    kernel_size: int = dataclasses.field(default=3, metadata={"help": "convolution kernel side"})
    dropout_rate: float = dataclasses.field(
        default=0.2,
        metadata={
            "help": "dropout rate after the encoder pools and on the skip paths (Monte-Carlo "
            "uncertainty)",
            "flag": "--dropout",
        },
    )
    interpolation: str = dataclasses.field(
        default="bilinear", metadata={"help": "upsampling", "choices": INTERPOLATIONS}
    )
    l2: float = dataclasses.field(default=1e-5, metadata={"help": "L2 weight decay"})
    deep_supervision: bool = dataclasses.field(
        default=True, metadata={"help": "train a head on every decoder level too"}
    )

    def __post_init__(self):
        if not 1 <= self.depth <= 8:
            raise ValueError(f"depth must be between 1 and 8, got {self.depth}.")
        self.validate_input_size(self.image_size, "image_size")
        if self.filters < 1:
            raise ValueError(f"filters must be at least 1, got {self.filters}.")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd and positive (a centred window), got {self.kernel_size}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}.")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}."
            )
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}.")

    @property
    def level_filters(self):
        return tuple(self.filters * 2**level for level in range(self.depth + 1))

    @property
    def fused_filters(self):
        return self.filters * (self.depth + 1)


# Encoder channels double per level up to 8 x filters, as Pathak's 64 -> 512.
MAX_CHANNEL_FACTOR = 8


@dataclasses.dataclass(frozen=True)
class ContextEncoderConfig(ModelConfig):
    """What defines a context encoder and its discriminator; stored in checkpoints and cards.

    Attributes:
        image_size: side of the square input, training and serving alike: the
            channel-wise fully connected layer ties the network to it.
        depth: stride-2 convolutions of the encoder (and x2 upsamplings of the decoder);
            the bottleneck is image_size / 2**depth on a side.
        filters: channels of the first encoder layer, doubled per level up to 8 x filters.
        dropout_rate: dropout before the channel-wise layer (the course project's 0.4),
            kept active at inference for Monte-Carlo uncertainty; 0 disables it.
        discriminator_filters: channels of the discriminator's first convolution, doubled
            per layer.
        discriminator_depth: the discriminator's stride-2 convolutions; each logit judges a
            patch of about 2**(depth + 2) pixels.
    """

    image_size: int = dataclasses.field(
        default=128, metadata={"help": "side of the square training input"}
    )
    depth: int = dataclasses.field(default=5, metadata={"help": "stride-2 steps of the encoder"})
    filters: int = dataclasses.field(default=64, metadata={"help": "channels of the first level"})
    dropout_rate: float = dataclasses.field(
        default=0.4,
        metadata={
            "help": "dropout rate at the bottleneck (Monte-Carlo uncertainty)",
            "flag": "--dropout",
        },
    )
    discriminator_filters: int = dataclasses.field(
        default=64, metadata={"help": "channels of the discriminator's first layer"}
    )
    discriminator_depth: int = dataclasses.field(
        default=3, metadata={"help": "stride-2 layers of the discriminator"}
    )

    def __post_init__(self):
        if not 1 <= self.depth <= 8:
            raise ValueError(f"depth must be between 1 and 8, got {self.depth}.")
        # The encoder's stride rule; this class's own rule is for inputs of a built model.
        ModelConfig.validate_input_size(self, self.image_size, "image_size")
        if self.filters < 1 or self.discriminator_filters < 1:
            raise ValueError(
                "filters and discriminator_filters must be at least 1, got "
                f"{self.filters} and {self.discriminator_filters}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}.")
        if not 1 <= self.discriminator_depth <= 8:
            raise ValueError(
                f"discriminator_depth must be between 1 and 8, got {self.discriminator_depth}."
            )
        kernel_bytes = 4 * self.bottleneck_channels * (self.bottleneck_size**2) ** 2
        if kernel_bytes > MAX_SHARD_BYTES:
            raise ValueError(
                f"The channel-wise fully connected layer would hold {kernel_bytes / 1e6:.0f} MB "
                f"of weights ({self.bottleneck_channels} channels of a "
                f"{self.bottleneck_size}x{self.bottleneck_size} bottleneck), more than a "
                f"checkpoint shard ({MAX_SHARD_BYTES / 1e6:.0f} MB): raise depth or lower "
                "image_size or filters."
            )

    @property
    def encoder_channels(self):
        return tuple(
            min(self.filters * 2**level, self.filters * MAX_CHANNEL_FACTOR)
            for level in range(self.depth)
        )

    @property
    def bottleneck_channels(self):
        return self.encoder_channels[-1]

    @property
    def bottleneck_size(self):
        return self.image_size // 2**self.depth

    def validate_input_size(self, size, name="input size"):
        if size != self.image_size:
            raise ValueError(
                f"{name} must be {self.image_size}, the context encoder's image_size: its "
                f"channel-wise fully connected bottleneck works at that size only, got {size}."
            )


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms; the defaults are the paper's."""

    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style_out: float = 120.0
    style_comp: float = 120.0
    tv: float = 0.1
    # Not in the paper: 1 - SSIM of the composite, as `holefill evaluate` scores it. Pixel
    # terms alone favour fills that are right on average but flatter than the photo.
    ssim: float = 0.0
    # Not in the paper: L1 of the composite's and the truth's means over 8x8 blocks. The
    # guided synthesis copies the photo's grain and follows the network's low frequencies
    # alone, so for it they are what the network is for.
    low_frequency: float = 0.0

    @property
    def uses_features(self):
        """Whether a term needs VGG16 features (which dominate a training step's cost)."""
        return any((self.perceptual, self.style_out, self.style_comp))


LOSS_TERMS = tuple(field.name for field in dataclasses.fields(LossWeights))


@dataclasses.dataclass(frozen=True)
class AdversarialConfig:
    """The adversarial part of a training run; saved with each checkpoint. Each field's
    help says what it is (and is its flag's help)."""

    reconstruction_weight: float = dataclasses.field(
        default=0.999, metadata={"help": "weight of the reconstruction loss in the generator's"}
    )
    adversarial_weight: float = dataclasses.field(
        default=0.001, metadata={"help": "weight of the adversarial term in the generator's loss"}
    )
    style_weight: float = dataclasses.field(
        default=0.0,
        metadata={
            "help": "weight of a Gram-matrix style term on VGG16 pool1-3 features (the course "
            "project's Monet variant used 0.01); 0 leaves it out (and VGG16 unused)"
        },
    )
    discriminator_learning_rate: float = dataclasses.field(
        default=1e-3, metadata={"help": "SGD learning rate of the discriminator"}
    )
    gradient_clip_norm: float = dataclasses.field(
        default=1.0,
        metadata={"help": "both optimizers clip the global norm of their gradients to it"},
    )

    def __post_init__(self):
        for name in ("reconstruction_weight", "adversarial_weight", "style_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}.")
        for name in ("discriminator_learning_rate", "gradient_clip_norm"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")


# The configuration class of each architecture, by the name cards and `--arch` give it.
ARCHITECTURE_CONFIGS = {
    "pconv": PConvUNetConfig,
    "unet3plus": UNet3PlusConfig,
    "context-encoder": ContextEncoderConfig,
}

# The reconstruction losses a run may train with (`holefill.nn.losses`).
RECONSTRUCTION_LOSSES = ("pconv", "blind-mae")


@dataclasses.dataclass(frozen=True)
class TrainingDefaults:
    """How an architecture trains where a run does not say.

    Attributes:
        learning_rate: the first stage's learning rate (Adam).
        loss: the reconstruction loss, one of `RECONSTRUCTION_LOSSES`.
        mask_kinds: the `{kind: weight}` of training masks; None for
            `holefill.masks.generator.DEFAULT_MASK_KIND_PROBABILITIES`.
        adversarial: whether it trains against a discriminator (`holefill.nn.adversarial`).
    """

    learning_rate: float
    loss: str
    mask_kinds: dict | None = None
    adversarial: bool = False


TRAINING_DEFAULTS = {
    "pconv": TrainingDefaults(learning_rate=2e-4, loss="pconv"),  # the paper's
    # BlindPaint's learning rate and loss.
    "unet3plus": TrainingDefaults(learning_rate=5e-5, loss="blind-mae"),
    "context-encoder": TrainingDefaults(
        learning_rate=6e-4,  # the course project's generator Adam
        loss="blind-mae",
        # The context encoder's own centre and random blocks, and our strokes.
        mask_kinds={"centre_block": 1.0, "random_blocks": 1.0, "irregular": 1.0},
        adversarial=True,
    ),
}


def architecture_name_of(config):
    """The name of the architecture whose configuration class `config` is an instance of."""
    for name, config_class in ARCHITECTURE_CONFIGS.items():
        if isinstance(config, config_class):
            return name
    raise ValueError(f"{type(config).__name__} is not the configuration of any architecture.")
