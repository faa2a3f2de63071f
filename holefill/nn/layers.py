"""Holefill's Keras 3 layers, which run on any backend: the partial convolution of Liu et al.
2018, the channel-wise fully connected layer of the context encoder, Monte-Carlo dropout and
the composite that keeps known pixels.

For a partial-convolution window with mask sum S (over the window and the mask channels
counted in the sum):

    output   = W^T (X * M) * (window / S) + b    where S > 0
    output   = 0 (bias included)                 where S = 0
    new mask = 1 where S > 0, else 0

`window` is k_h * k_w * (mask channels): the re-implementations that divide by k_h * k_w
while summing over every input channel scale valid windows by 1 / C_in; those that add the
bias at holes leak it into the hole (docs/ARCHITECTURE.md, "The partial convolution").
"""

import keras
from keras import ops

# Keeps the division finite where the mask sum is 0; those outputs are zeroed afterwards.
MASK_SUM_EPSILON = 1e-8


@keras.saving.register_keras_serializable(package="holefill")
class PartialConv2D(keras.layers.Layer):
    """2D partial convolution on `(features, mask)`; returns `(features, new_mask)`.

    The mask has either one channel, shared by every feature channel (its sum then costs a
    single-channel convolution), or one channel per feature channel. Mask values are 1 for
    known pixels and 0 for holes; the returned mask always has one channel.

    "same" padding pads features and mask alike with zeros, so the border counts as hole
    and windows there are re-weighted exactly like windows that touch a hole.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        dilation_rate=1,
        use_bias=True,
        kernel_initializer="he_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError("strides > 1 together with dilation_rate > 1 is not supported.")
        self.padding = padding
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)

    def build(self, input_shape):
        features_shape, mask_shape = _split_inputs(input_shape)
        input_channels = features_shape[-1]
        mask_channels = mask_shape[-1]
        if input_channels is None or mask_channels is None:
            raise ValueError("PartialConv2D needs a known channel count for features and mask.")
        _check_mask_channels(input_channels, mask_channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, input_channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.bias = (
            self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )
            if self.use_bias
            else None
        )

    def call(self, inputs):
        features, mask = _split_inputs(inputs)
        mask_channels = mask.shape[-1]
        _check_mask_channels(features.shape[-1], mask_channels)
        window_size = float(self.kernel_size[0] * self.kernel_size[1] * mask_channels)
        # The mask path stays in float32 under mixed precision: sums of up to thousands of
        # ones and the ratio window / sum lose too much in float16.
        mask = ops.stop_gradient(ops.cast(mask, "float32"))
        masked_features = features * ops.cast(mask, features.dtype)
        convolved = ops.conv(
            masked_features,
            ops.cast(self.kernel, features.dtype),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )
        mask_kernel = ops.ones((*self.kernel_size, mask_channels, 1), dtype="float32")
        mask_sum = ops.conv(
            mask,
            mask_kernel,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
        )
        # Masks are binary, so sums are whole numbers; comparing with 0.5 rather than 0 is
        # immune to the rounding of fast convolution algorithms (Winograd, FFT).
        new_mask = ops.cast(mask_sum > 0.5, "float32")
        ratio = window_size / (mask_sum + MASK_SUM_EPSILON) * new_mask
        outputs = convolved * ops.cast(ratio, convolved.dtype)
        if self.bias is not None:
            outputs = outputs + ops.cast(self.bias, outputs.dtype)
        outputs = outputs * ops.cast(new_mask, outputs.dtype)
        return outputs, new_mask

    def compute_output_shape(self, input_shape):
        features_shape, _ = _split_inputs(input_shape)
        spatial = [
            _output_length(length, kernel, stride, dilation, self.padding)
            for length, kernel, stride, dilation in zip(
                features_shape[1:3], self.kernel_size, self.strides, self.dilation_rate, strict=True
            )
        ]
        return (features_shape[0], *spatial, self.filters), (features_shape[0], *spatial, 1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="holefill")
class ConcatenateWithMasks(keras.layers.Layer):
    """Concatenates `(features, mask)` pairs along channels, expanding each mask per channel.

    A skip connection joins two feature maps whose holes differ, so the joined mask can no
    longer be one shared channel: each part keeps its own mask, repeated over its channels.
    """

    def call(self, inputs):
        # Broadcasting (rather than repeating) keeps the channel count static, which the
        # LiteRT converter needs to lower the mask convolution to a builtin op.
        masks = [
            ops.cast(mask, "float32") * ops.ones((features.shape[-1],), "float32")
            for features, mask in inputs
        ]
        features = [features for features, _ in inputs]
        return ops.concatenate(features, axis=-1), ops.concatenate(masks, axis=-1)

    def compute_output_shape(self, input_shape):
        channels = sum(pair[0][-1] for pair in input_shape)
        spatial = tuple(input_shape[0][0][:-1])
        return (*spatial, channels), (*spatial, channels)


@keras.saving.register_keras_serializable(package="holefill")
class MonteCarloDropout(keras.layers.Dropout):
    """Dropout that stays active at inference: each call is one Monte-Carlo sample.

    A functional model passes its own `training` flag down to every layer, so a plain
    `Dropout` called with `training=True` at construction is still switched off by
    `model(inputs, training=False)`.
    """

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


@keras.saving.register_keras_serializable(package="holefill")
class KnownPixelsComposite(keras.layers.Layer):
    """`[image, mask, prediction] -> mask * image + (1 - mask) * prediction`.

    Known pixels (mask 1) pass through from the image, so a network ending in this layer
    is judged, and learns, only on what it fills; the mask has one channel.
    """

    def call(self, inputs):
        image, mask, prediction = inputs
        mask = ops.cast(mask, prediction.dtype)
        return mask * ops.cast(image, prediction.dtype) + (1.0 - mask) * prediction

    def compute_output_shape(self, input_shape):
        return input_shape[2]


@keras.saving.register_keras_serializable(package="holefill")
class ChannelWiseFullyConnected(keras.layers.Layer):
    """Connects every position of a channel to every position of the same channel.

    `(N, H, W, C) -> (N, H, W, C)` with one `(H*W, H*W)` matrix per channel and a bias per
    position and channel: C (HW)^2 weights where a dense layer would need (C HW)^2 (Pathak
    et al. 2016, the context encoder's bottleneck). The weights are the layer's own, so
    they train (the course project's matrix was a plain tensor and never learned). It
    ties the network to one spatial size, which `build` fixes.

    Args:
        kernel_initializer: for the `(C, HW, HW)` kernel; by default Glorot uniform over
            each channel's matrix (Keras's "glorot_uniform" would count the channel axis
            as a receptive field and draw C times smaller weights).
        **kwargs: passed on to `keras.layers.Layer`.
    """

    def __init__(self, kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = (
            None if kernel_initializer is None else keras.initializers.get(kernel_initializer)
        )

    def build(self, input_shape):
        _, height, width, channels = input_shape
        if None in (height, width, channels):
            raise ValueError(
                "ChannelWiseFullyConnected needs a fixed height, width and channel count, "
                f"got input shape {input_shape}."
            )
        self.height, self.width, self.channels = height, width, channels
        positions = height * width
        initializer = self.kernel_initializer or keras.initializers.RandomUniform(
            -((3.0 / positions) ** 0.5), (3.0 / positions) ** 0.5
        )
        self.kernel = self.add_weight(
            name="kernel", shape=(channels, positions, positions), initializer=initializer
        )
        self.bias = self.add_weight(name="bias", shape=(positions, channels), initializer="zeros")

    def call(self, inputs):
        positions = self.height * self.width
        # (N, HW, C) -> (C, N, HW): a batched matrix product with the channel as the batch,
        # which LiteRT runs as one BATCH_MATMUL.
        flat = ops.transpose(ops.reshape(inputs, (-1, positions, self.channels)), (2, 0, 1))
        mixed = ops.matmul(flat, ops.cast(self.kernel, inputs.dtype))
        outputs = ops.transpose(mixed, (1, 2, 0)) + ops.cast(self.bias, inputs.dtype)
        return ops.reshape(outputs, (-1, self.height, self.width, self.channels))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["kernel_initializer"] = (
            None
            if self.kernel_initializer is None
            else keras.initializers.serialize(self.kernel_initializer)
        )
        return config


def _split_inputs(inputs):
    if not isinstance(inputs, list | tuple) or len(inputs) != 2:
        raise ValueError("PartialConv2D takes exactly two inputs: (features, mask).")
    return inputs


def _check_mask_channels(input_channels, mask_channels):
    if mask_channels not in (1, input_channels):
        raise ValueError(
            f"The mask must have 1 channel (shared) or {input_channels} channels (one per "
            f"feature channel), got {mask_channels}."
        )


def _pair(value, name):
    values = (value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 2 or not all(isinstance(item, int) and item > 0 for item in values):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {value!r}.")
    return values


def _output_length(length, kernel, stride, dilation, padding):
    if length is None:
        return None
    if padding == "same":
        return -(-length // stride)
    effective_kernel = (kernel - 1) * dilation + 1
    return (length - effective_kernel) // stride + 1
