"""Adversarial training of an inpainting generator against a patch discriminator, with `fit`,
on the TensorFlow and JAX backends.

    generator loss     = 0.999 reconstruction + 0.001 adversarial (+ 0.01 style, optional)
    discriminator loss = mean of BCE(real patches, 1) and BCE(filled patches, 0)

(the course project's weights; the generator's adversarial
term labels its fills real). Each network has its own optimizer, so the training step is
written out: one forward pass of the generator, one gradient computation for both losses,
one update per optimizer. `fit` calls `train_step(data)` on TensorFlow and the stateless
`train_step(state, data)` on JAX; both run `AdversarialTrainer.losses_from_values`, which
computes every loss from explicit variable values.
"""

import keras
from keras import ops

from holefill.nn.config import AdversarialConfig


@keras.saving.register_keras_serializable(package="holefill")
class AdversarialTrainer(keras.Model):
    """Trains `generator` (`{"image", "mask"} -> image`) against `discriminator` (`images ->
    patch logits`) with `fit`; compile it with the generator's optimizer.

    Args:
        generator: the generator; `trainer.generator` is what export and serving use.
        discriminator: the patch discriminator.
        reconstruction_loss: `(truth, output, mask) -> {term: value, "total": value}` with
            a `terms` attribute (`holefill.nn.losses.PConvLoss` or `BlindMAELoss`).
        discriminator_optimizer: the discriminator's optimizer, built here.
        adversarial: an `AdversarialConfig`.
        style_loss: with a positive `style_weight`, a loss of the same form whose total is
            the style term.
    """

    def __init__(
        self,
        generator,
        discriminator,
        reconstruction_loss,
        discriminator_optimizer,
        adversarial=None,
        style_loss=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if keras.backend.backend() not in ("tensorflow", "jax"):
            raise ValueError(
                "Adversarial training runs on the TensorFlow and JAX backends, not "
                f"{keras.backend.backend()!r}: set KERAS_BACKEND=tensorflow or jax."
            )
        self.adversarial = adversarial or AdversarialConfig()
        if self.adversarial.style_weight and style_loss is None:
            raise ValueError("A positive style_weight needs a style_loss.")
        self.generator = generator
        self.discriminator = discriminator
        self.reconstruction_loss = reconstruction_loss
        self.style_loss = style_loss if self.adversarial.style_weight else None
        self.discriminator_optimizer = discriminator_optimizer
        discriminator_optimizer.build(discriminator.trainable_variables)
        # Tracked as this model's own state, JAX's `fit` hands these to the stateless
        # `train_step` and back, as it does the compiled optimizer's variables.
        self.discriminator_optimizer_variables = list(discriminator_optimizer.variables)
        names = [
            *reconstruction_loss.terms,
            "reconstruction",
            "adversarial",
            *(("style",) if self.style_loss else ()),
            "loss",
            "discriminator",
        ]
        self.trackers = [keras.metrics.Mean(name=name) for name in names]

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self.trackers)

    def checkpoint_variables(self):
        """`{group: variables}` that a checkpoint holds; "model" is the generator."""
        return {
            "model": self.generator.weights,
            "discriminator": self.discriminator.weights,
            "optimizer": self.optimizer.variables,
            "discriminator_optimizer": self.discriminator_optimizer.variables,
        }

    def losses_from_values(
        self,
        generator_trainable,
        discriminator_trainable,
        generator_state,
        discriminator_state,
        inputs,
        truth,
    ):
        """Both losses from explicit variable values (a pure function, for JAX).

        Returns `(objective, (terms, generator_state, discriminator_state))`. The gradient
        of `objective` with respect to the generator's values is that of its loss, and with
        respect to the discriminator's that of its loss: each network meets the other
        behind `stop_gradient`, so one gradient computation serves both optimizers.
        """
        output, generator_state = self.generator.stateless_call(
            generator_trainable, generator_state, inputs, training=True
        )
        frozen = [ops.stop_gradient(value) for value in discriminator_trainable]
        fooling_logits, _ = self.discriminator.stateless_call(
            frozen, discriminator_state, output, training=True
        )
        judged = ops.concatenate([ops.cast(truth, output.dtype), ops.stop_gradient(output)], 0)
        logits, discriminator_state = self.discriminator.stateless_call(
            discriminator_trainable, discriminator_state, judged, training=True
        )
        real_logits, fake_logits = ops.split(logits, 2)

        terms = dict(self.reconstruction_loss(truth, output, inputs["mask"]))
        terms["reconstruction"] = terms.pop("total")
        terms["adversarial"] = _binary_crossentropy(1.0, fooling_logits)
        weights = self.adversarial
        terms["loss"] = (
            weights.reconstruction_weight * terms["reconstruction"]
            + weights.adversarial_weight * terms["adversarial"]
        )
        if self.style_loss is not None:
            terms["style"] = self.style_loss(truth, output, inputs["mask"])["total"]
            terms["loss"] += weights.style_weight * terms["style"]
        terms["discriminator"] = 0.5 * (
            _binary_crossentropy(1.0, real_logits) + _binary_crossentropy(0.0, fake_logits)
        )
        objective = terms["loss"] + terms["discriminator"]
        return objective, (terms, generator_state, discriminator_state)

    def train_step(self, *arguments):
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*arguments)
        return self._tensorflow_train_step(*arguments)

    def _tensorflow_train_step(self, data):
        import tensorflow as tf

        inputs, truth, _ = keras.utils.unpack_x_y_sample_weight(data)
        generator, discriminator = self.generator, self.discriminator
        with tf.GradientTape() as tape:
            values = [
                [variable.value for variable in variables]
                for variables in (
                    generator.trainable_variables,
                    discriminator.trainable_variables,
                    generator.non_trainable_variables,
                    discriminator.non_trainable_variables,
                )
            ]
            tape.watch(values[:2])
            objective, (terms, generator_state, discriminator_state) = self.losses_from_values(
                *values, inputs, truth
            )
        generator_gradients, discriminator_gradients = tape.gradient(objective, values[:2])
        self.optimizer.apply(generator_gradients, generator.trainable_variables)
        self.discriminator_optimizer.apply(
            discriminator_gradients, discriminator.trainable_variables
        )
        for variables, state in (
            (generator.non_trainable_variables, generator_state),
            (discriminator.non_trainable_variables, discriminator_state),
        ):
            for variable, value in zip(variables, state, strict=True):
                variable.assign(value)
        return self._track(terms)

    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metrics_values = state
        values = dict(zip(map(id, self.trainable_variables), trainable, strict=True))
        values.update(zip(map(id, self.non_trainable_variables), non_trainable, strict=True))

        def of(variables):
            return [values[id(variable)] for variable in variables]

        generator, discriminator = self.generator, self.discriminator
        inputs, truth, _ = keras.utils.unpack_x_y_sample_weight(data)
        gradients_of = jax.value_and_grad(self.losses_from_values, argnums=(0, 1), has_aux=True)
        (_, (terms, generator_state, discriminator_state)), gradients = gradients_of(
            of(generator.trainable_variables),
            of(discriminator.trainable_variables),
            of(generator.non_trainable_variables),
            of(discriminator.non_trainable_variables),
            inputs,
            truth,
        )
        generator_trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, gradients[0], of(generator.trainable_variables)
        )
        discriminator_trainable, discriminator_optimizer_values = (
            self.discriminator_optimizer.stateless_apply(
                of(self.discriminator_optimizer.variables),
                gradients[1],
                of(discriminator.trainable_variables),
            )
        )
        for variables, new_values in (
            (generator.trainable_variables, generator_trainable),
            (discriminator.trainable_variables, discriminator_trainable),
            (generator.non_trainable_variables, generator_state),
            (discriminator.non_trainable_variables, discriminator_state),
            (self.discriminator_optimizer.variables, discriminator_optimizer_values),
        ):
            values.update(zip(map(id, variables), new_values, strict=True))

        with keras.StatelessScope(
            state_mapping=list(zip(self.metrics_variables, metrics_values, strict=True))
        ) as scope:
            logs = self._track(terms)
        metrics_values = [scope.get_current_value(variable) for variable in self.metrics_variables]
        state = (
            of(self.trainable_variables),
            of(self.non_trainable_variables),
            optimizer_values,
            metrics_values,
        )
        return logs, state

    def _track(self, terms):
        for tracker in self.trackers:
            tracker.update_state(terms[tracker.name])
        return {tracker.name: tracker.result() for tracker in self.trackers}


def _binary_crossentropy(label, logits):
    """Mean binary cross-entropy of patch logits against one label for all of them."""
    logits = ops.cast(logits, "float32")
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, label), logits, from_logits=True))
