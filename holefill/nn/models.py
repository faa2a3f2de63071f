"""The partial-convolution U-Net of Liu et al. 2018, parameterised by size, depth and width;
what every architecture's configuration shares; and the floating-point cost of a network.

At depth 8, width 1 and 512 px it is the paper's network (Liu et al. 2018, section 3.2):
encoder PConv 7x7/64, 5x5/128, 5x5/256, then 3x3/512, all stride 2, ReLU, batch norm except
on the first; decoder nearest x2, features and masks concatenated with the skip, PConv 3x3,
batch norm and LeakyReLU 0.2; the last layer also sees the input image and mask and has
neither batch norm nor activation.
"""

import math

import keras

from holefill.nn.layers import (
    ChannelWiseFullyConnected,
    ConcatenateWithMasks,
    MonteCarloDropout,
    PartialConv2D,
)

ENCODER_BATCH_NORM_PREFIX = "encoder_bn_"


def build_pconv_unet(config, *, monte_carlo=False, input_size=None, name="pconv_unet"):
    """Builds the U-Net as a functional model `{"image", "mask"} -> image`.

    Args:
        config: a `PConvUNetConfig`.
        monte_carlo: keep dropout active at inference (the weights are the same as the
            ordinary model's, so `set_weights` moves them across).
        input_size: spatial size of the inputs; `None` (the default) accepts any multiple
            of 2**depth, an int fixes it (for export).
        name: the model name.

    The image input holds the photo with anything in the holes (they are multiplied by the
    mask); the mask input is 1 for known pixels and 0 for holes, one channel.
    """
    if input_size is not None:
        config.validate_input_size(input_size, "input_size")
    image = keras.Input((input_size, input_size, 3), name="image")
    mask = keras.Input((input_size, input_size, 1), name="mask")

    skips = [(image, mask)]
    features, feature_mask = image, mask
    for level, (channels, kernel) in enumerate(
        zip(config.encoder_channels, config.encoder_kernels, strict=True), start=1
    ):
        features, feature_mask = PartialConv2D(
            channels, kernel, strides=2, name=f"encoder_pconv_{level}"
        )([features, feature_mask])
        if level > 1:
            features = keras.layers.BatchNormalization(name=f"{ENCODER_BATCH_NORM_PREFIX}{level}")(
                features
            )
        features = keras.layers.ReLU(name=f"encoder_relu_{level}")(features)
        skips.append((features, feature_mask))

    skips.pop()  # the bottleneck is where the decoder starts, not a skip
    output_channels = [*config.encoder_channels[-2::-1], 3]
    for index, ((skip, skip_mask), channels) in enumerate(
        zip(skips[::-1], output_channels, strict=True)
    ):
        level = config.depth - index
        is_last = level == 1
        features = keras.layers.UpSampling2D(name=f"decoder_upsample_{level}")(features)
        feature_mask = keras.layers.UpSampling2D(name=f"decoder_upsample_mask_{level}")(
            feature_mask
        )
        features, feature_mask = ConcatenateWithMasks(name=f"decoder_concat_{level}")(
            [(features, feature_mask), (skip, skip_mask)]
        )
        if config.dropout_rate and level <= config.dropout_layers:
            dropout = MonteCarloDropout if monte_carlo else keras.layers.Dropout
            features = dropout(config.dropout_rate, name=f"decoder_dropout_{level}")(features)
        features, feature_mask = PartialConv2D(channels, 3, name=f"decoder_pconv_{level}")(
            [features, feature_mask]
        )
        if not is_last:
            features = keras.layers.BatchNormalization(name=f"decoder_bn_{level}")(features)
            features = keras.layers.LeakyReLU(0.2, name=f"decoder_leaky_relu_{level}")(features)

    return keras.Model({"image": image, "mask": mask}, features, name=name)


def set_encoder_batch_norm_frozen(model, frozen=True):
    """Freezes (or unfreezes) the encoder batch norm for the fine-tuning stage.

    A frozen Keras `BatchNormalization` runs in inference mode and never updates its
    running statistics: hole pixels no longer pollute them (the paper's second stage).
    The model must be compiled again afterwards.
    """
    layers = [layer for layer in model.layers if layer.name.startswith(ENCODER_BATCH_NORM_PREFIX)]
    if not layers:
        raise ValueError(f"Model {model.name!r} has no encoder batch-norm layers to freeze.")
    for layer in layers:
        layer.trainable = not frozen
    return layers


def layer_calls(model):
    """The model's layer calls (nodes), each after the calls that produce its inputs.

    A functional model keeps its nodes by depth, inputs deepest, and runs them in
    decreasing depth; this walks them the same way (Keras has no public API for it).
    """
    by_depth = model._nodes_by_depth
    return [
        node
        for depth in sorted(by_depth, reverse=True)
        for node in by_depth[depth]
        if not node.is_input
    ]


def count_flops(model):
    """Floating-point operations of one forward pass (2 per multiply-add) of a functional
    model built for a fixed input size.

    Counts convolutions (a partial convolution's feature convolution and its mask-sum
    convolution) and channel-wise fully connected layers; batch norm, activations,
    pooling, resizing and masking are negligible next to them. Counted per layer call, so
    a layer that several graphs share is counted where this model calls it.
    """
    total = 0
    for node in layer_calls(model):
        layer = node.operation
        if not isinstance(layer, PartialConv2D | keras.layers.Conv2D | ChannelWiseFullyConnected):
            continue
        input_shape = node.input_tensors[0].shape
        output_shape = node.outputs[0].shape
        if None in (*input_shape[1:], *output_shape[1:]):
            raise ValueError("count_flops needs a model built for a fixed input size.")
        positions = math.prod(output_shape[1:-1])
        if isinstance(layer, ChannelWiseFullyConnected):
            total += 2 * positions * positions * layer.channels
        else:
            window = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * positions * window * input_shape[-1] * layer.filters
            if isinstance(layer, PartialConv2D):
                total += 2 * positions * window * node.input_tensors[1].shape[-1]
    return total
