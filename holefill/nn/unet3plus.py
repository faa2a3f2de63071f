"""UNet3+ (Huang et al. 2020) with Monte-Carlo dropout, after BlindPaint's radar in-filling
network (docs/ARCHITECTURE.md, "Networks").

The input is the photo with its holes zeroed plus the mask as a fourth channel. Every
decoder level sees every scale (full-scale skip connections): the encoder levels above it
max-pooled, its own encoder level, and the decoder levels below it upsampled, each brought
to `filters` channels and fused into `(depth + 1) * filters`. Blocks are Conv -> BN -> ReLU,
two per encoder level and one per decoder path. The head is linear and its output is
composited into the known pixels, so the network only ever fills holes.

Dropout follows every encoder pool and sits on every resized skip path; built with
`monte_carlo=True` it stays active at inference, so that each pass is one Monte-Carlo
sample. Deep supervision adds, in training only, a head on every lower decoder level and
on the bottleneck, upsampled to the output.
"""

import keras

from holefill.nn.layers import KnownPixelsComposite, MonteCarloDropout


def build_unet3plus(
    config, *, monte_carlo=False, input_size=None, supervision_heads=False, name="unet3plus"
):
    """Builds the UNet3+ as a functional model `{"image", "mask"} -> image`.

    Args:
        config: a `UNet3PlusConfig`.
        monte_carlo: keep dropout active at inference (the weights are the same as the
            ordinary model's, so `set_weights` moves them across).
        input_size: spatial size of the inputs; `None` (the default) accepts any multiple
            of 2**depth, an int fixes it (for export).
        supervision_heads: also output the deep-supervision heads, for training: the
            model then returns `[output, head_1, ..., head_depth]`, head `l` read from
            decoder level `l` (the bottleneck for `l = depth`). The layers it shares with
            the model built without them have the same names, hence the same weights.
        name: the model name.

    The image input holds the photo with anything in the holes (they are multiplied by the
    mask); the mask input is 1 for known pixels and 0 for holes, one channel.
    """
    if input_size is not None:
        config.validate_input_size(input_size, "input_size")
    image = keras.Input((input_size, input_size, 3), name="image")
    mask = keras.Input((input_size, input_size, 1), name="mask")
    regularizer = keras.regularizers.L2(config.l2) if config.l2 else None
    dropout = MonteCarloDropout if monte_carlo else keras.layers.Dropout

    def block(features, filters, block_name):
        # No bias: the batch norm right after adds its own offset.
        features = keras.layers.Conv2D(
            filters,
            config.kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer="he_normal",
            kernel_regularizer=regularizer,
            name=f"{block_name}_conv",
        )(features)
        features = keras.layers.BatchNormalization(name=f"{block_name}_bn")(features)
        return keras.layers.ReLU(name=f"{block_name}_relu")(features)

    def drop(features, dropout_name):
        if not config.dropout_rate:
            return features
        return dropout(config.dropout_rate, name=dropout_name)(features)

    def upsample(features, factor, upsample_name):
        return keras.layers.UpSampling2D(
            factor, interpolation=config.interpolation, name=upsample_name
        )(features)

    def head(features, head_name):
        # Linear: the prediction is an image, not an activation.
        return keras.layers.Conv2D(3, config.kernel_size, padding="same", name=f"{head_name}_conv")(
            features
        )

    def composite(prediction, composite_name):
        return KnownPixelsComposite(name=composite_name)([image, mask, prediction])

    features = keras.layers.Concatenate(name="image_and_mask")([image, mask])
    encoder = []
    for level, filters in enumerate(config.level_filters):
        if level:
            features = keras.layers.MaxPooling2D(2, name=f"encoder_{level}_pool")(features)
            features = drop(features, f"encoder_{level}_dropout")
        features = block(features, filters, f"encoder_{level}_a")
        features = block(features, filters, f"encoder_{level}_b")
        encoder.append(features)

    # The bottleneck feeds the decoder levels above it as a decoder level does.
    decoder = {config.depth: encoder[config.depth]}
    for level in reversed(range(config.depth)):
        paths = []
        for source in range(config.depth + 1):
            path = f"decoder_{level}_from_{source}"
            if source < level:
                features = keras.layers.MaxPooling2D(2 ** (level - source), name=f"{path}_pool")(
                    encoder[source]
                )
                features = drop(features, f"{path}_dropout")
            elif source == level:
                features = encoder[source]
            else:
                # Dropout before the upsampling: at the lower resolution its keep masks are
                # (4**(source - level) times) smaller to draw in serving, and each dropped
                # feature stays a whole upsampled patch rather than a speck.
                features = drop(decoder[source], f"{path}_dropout")
                features = upsample(features, 2 ** (source - level), f"{path}_upsample")
            paths.append(block(features, config.filters, path))
        fused = keras.layers.Concatenate(name=f"decoder_{level}_concat")(paths)
        decoder[level] = block(fused, config.fused_filters, f"decoder_{level}_fuse")

    output = composite(head(decoder[0], "output"), "output_composite")
    outputs = output
    if supervision_heads:
        outputs = [output]
        for level in range(1, config.depth + 1):
            prediction = upsample(
                head(decoder[level], f"supervision_{level}"),
                2**level,
                f"supervision_{level}_upsample",
            )
            outputs.append(composite(prediction, f"supervision_{level}_composite"))
    return keras.Model({"image": image, "mask": mask}, outputs, name=name)


def build_unet3plus_for_training(config):
    """The network that training holds to the loss: with the supervision heads when the
    configuration asks for deep supervision."""
    return build_unet3plus(config, supervision_heads=config.deep_supervision)
