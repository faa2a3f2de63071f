"""The context encoder (Pathak et al. 2016) as the course project built it, with its
adversarial patch discriminator (docs/ARCHITECTURE.md, "Networks").

Generator: a strided convolutional encoder of the photo with its holes and the mask, a
channel-wise fully connected bottleneck (each channel's feature map fully connected to
itself, with trainable weights: the course project's never learned), a 1x1 convolution
that mixes the channels, and a decoder of nearest upsampling and convolutions back to the
image, composited into the known pixels. The bottleneck fixes the input size.

Discriminator: strided convolutions with LeakyReLU and no batch norm, ending in a map of
logits, one per overlapping patch (PatchGAN); `holefill.nn.adversarial` trains both.
"""

import keras

from holefill.nn.layers import ChannelWiseFullyConnected, KnownPixelsComposite, MonteCarloDropout


def build_context_encoder(config, *, monte_carlo=False, input_size=None, name="context_encoder"):
    """Builds the generator as a functional model `{"image", "mask"} -> image`.

    Args:
        config: a `ContextEncoderConfig`.
        monte_carlo: keep the bottleneck dropout active at inference (the weights are the
            same as the ordinary model's, so `set_weights` moves them across).
        input_size: None or `config.image_size`: the network always has that fixed size
            (the argument is the one every architecture's builder takes).
        name: the model name.

    The image input holds the photo with anything in the holes (they are multiplied by the
    mask); the mask input is 1 for known pixels and 0 for holes, one channel.
    """
    if input_size is not None:
        config.validate_input_size(input_size, "input_size")
    size = config.image_size
    image = keras.Input((size, size, 3), name="image")
    mask = keras.Input((size, size, 1), name="mask")

    features = keras.layers.Concatenate(name="image_and_mask")([image, mask])
    for level, channels in enumerate(config.encoder_channels, start=1):
        features = keras.layers.Conv2D(
            channels, 4, strides=2, padding="same", name=f"encoder_conv_{level}"
        )(features)
        if level > 1:  # DCGAN's rule: no batch norm on the layer that sees the image
            features = keras.layers.BatchNormalization(name=f"encoder_bn_{level}")(features)
        features = keras.layers.LeakyReLU(0.2, name=f"encoder_leaky_relu_{level}")(features)

    if config.dropout_rate:
        dropout = MonteCarloDropout if monte_carlo else keras.layers.Dropout
        features = dropout(config.dropout_rate, name="bottleneck_dropout")(features)
    features = ChannelWiseFullyConnected(name="channel_wise_fc")(features)
    features = keras.layers.BatchNormalization(name="channel_wise_bn")(features)
    features = keras.layers.PReLU(shared_axes=(1, 2), name="channel_wise_prelu")(features)
    # The channel-wise layer never mixes channels; Pathak follows it with a 1x1 convolution.
    features = keras.layers.Conv2D(
        config.bottleneck_channels, 1, use_bias=False, name="bottleneck_mix_conv"
    )(features)
    features = keras.layers.BatchNormalization(name="bottleneck_mix_bn")(features)
    features = keras.layers.ReLU(name="bottleneck_mix_relu")(features)

    decoder_channels = (*config.encoder_channels[-2::-1], config.filters)
    for level, channels in zip(range(config.depth, 0, -1), decoder_channels, strict=True):
        # Upsampling then convolving, rather than a transposed convolution, leaves no
        # checkerboard pattern (Odena et al. 2016).
        features = keras.layers.UpSampling2D(2, name=f"decoder_upsample_{level}")(features)
        features = keras.layers.Conv2D(
            channels, 3, padding="same", use_bias=False, name=f"decoder_conv_{level}"
        )(features)
        features = keras.layers.BatchNormalization(name=f"decoder_bn_{level}")(features)
        features = keras.layers.ReLU(name=f"decoder_relu_{level}")(features)
    prediction = keras.layers.Conv2D(3, 3, padding="same", name="output_conv")(features)
    output = KnownPixelsComposite(name="output_composite")([image, mask, prediction])
    return keras.Model({"image": image, "mask": mask}, output, name=name)


def build_patch_discriminator(config, name="patch_discriminator"):
    """The discriminator `images -> logits`: `(N, S, S, 3)` -> `(N, S / 2**d, S / 2**d, 1)`
    with d = `discriminator_depth`, one logit (real > 0) per overlapping patch.
    """
    images = keras.Input((None, None, 3), name="images")
    features = images
    for level in range(1, config.discriminator_depth + 1):
        features = keras.layers.Conv2D(
            config.discriminator_filters * 2 ** (level - 1),
            4,
            strides=2,
            padding="same",
            name=f"discriminator_conv_{level}",
        )(features)
        features = keras.layers.LeakyReLU(0.2, name=f"discriminator_leaky_relu_{level}")(features)
    logits = keras.layers.Conv2D(1, 4, padding="same", name="discriminator_logits")(features)
    return keras.Model(images, logits, name=name)
