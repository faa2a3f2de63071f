"""The models that `fit` trains: the generator wrapped with its loss, which needs the mask
(and, for the PConv loss, VGG16 features), so the wrapper overrides `compute_loss`, which
every backend's training step calls (statelessly on JAX); each loss term is tracked as its
own metric. The context encoder trains against a discriminator with its own training step
(`holefill.nn.adversarial`). And the checkpoints restored into them."""

from pathlib import Path

import keras
import numpy as np
from keras import ops

from holefill.nn.adversarial import AdversarialTrainer
from holefill.nn.architectures import (
    architecture_of,
)
from holefill.nn.checkpoints import (
    load_checkpoint,
)
from holefill.nn.config import LossWeights
from holefill.nn.context_encoder import build_patch_discriminator
from holefill.nn.losses import BlindMAELoss, PConvLoss, build_vgg16_feature_extractor
from holefill.training.config import JIT_COMPILE

# The adversarial style term: Gram matrices of the output's VGG16 features against the
# truth's, as the PConv loss's style_out.
STYLE_ONLY = LossWeights(valid=0, hole=0, perceptual=0, style_out=1, style_comp=0, tv=0)


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
    style = architecture.defaults.adversarial and config.adversarial.style_weight
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
    clip_norm = config.adversarial.gradient_clip_norm if architecture.defaults.adversarial else None
    # A fixed name keeps optimizer variable paths, the checkpoint keys, stable. The
    # context encoder's Adam is the course project's (beta_1 0.5, as GANs commonly use).
    optimizer = keras.optimizers.Adam(
        config.resolved_learning_rate,
        beta_1=0.5 if architecture.defaults.adversarial else 0.9,
        global_clipnorm=clip_norm,
        name="adam",
    )
    if architecture.defaults.adversarial:
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
        if architecture.defaults.adversarial
        else trainer.trainable_variables
    )
    return trainer


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
