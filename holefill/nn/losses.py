"""Reconstruction losses: the loss of Liu et al. 2018, and BlindPaint's masked L1.

The partial-convolution loss has terms valid, hole, perceptual, style (out and comp) and
total variation,

    L = 1 L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv

on VGG16 pool1, pool2 and pool3 features of ImageNet-trained torchvision weights, fed the
way those weights were trained (RGB in [0, 1], then ImageNet mean and std): another
framework's preprocessing changes the size of the perceptual and style terms.
"""

from pathlib import Path

import keras
import numpy as np
from keras import ops

from holefill.nn.config import LOSS_TERMS, LossWeights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LOW_FREQUENCY_BLOCK = 8
VGG16_BLOCKS = {1: (64, 2), 2: (128, 2), 3: (256, 3)}  # block -> (channels, convolutions)


def build_vgg16_feature_extractor(weights_path=None):
    """VGG16 blocks 1-3 returning `[pool1, pool2, pool3]` for RGB images in [0, 1].

    Always float32, also under a mixed-precision policy: Gram matrices of float16 features
    overflow. `weights_path` is an `.npz` with Keras VGG16 layer names (`block1_conv1/kernel`,
    HWIO), as `holefill fetch-vgg` writes; `None` leaves random weights (for tests).
    """
    images = keras.Input((None, None, 3), name="images", dtype="float32")
    features = keras.layers.Normalization(
        mean=IMAGENET_MEAN,
        variance=[std**2 for std in IMAGENET_STD],
        name="imagenet_normalization",
        dtype="float32",
    )(images)
    pools = []
    for block, (channels, convolutions) in VGG16_BLOCKS.items():
        for index in range(1, convolutions + 1):
            features = keras.layers.Conv2D(
                channels,
                3,
                padding="same",
                activation="relu",
                name=f"block{block}_conv{index}",
                dtype="float32",
            )(features)
        features = keras.layers.MaxPooling2D(2, name=f"block{block}_pool", dtype="float32")(
            features
        )
        pools.append(features)
    extractor = keras.Model(images, pools, name="vgg16_pool1_to_pool3")
    extractor.trainable = False
    if weights_path is not None:
        load_vgg16_weights(extractor, weights_path)
    return extractor


def load_vgg16_weights(extractor, weights_path):
    weights_path = Path(weights_path)
    if not weights_path.is_file():
        raise ValueError(
            f"VGG16 weights not found at {weights_path}. Run `holefill fetch-vgg` to download "
            "them, or pass --vgg-weights with the path of an .npz of blocks 1-3."
        )
    with np.load(weights_path) as arrays:
        for layer in extractor.layers:
            if not isinstance(layer, keras.layers.Conv2D):
                continue
            keys = (f"{layer.name}/kernel", f"{layer.name}/bias")
            missing = [key for key in keys if key not in arrays]
            if missing:
                raise ValueError(f"{weights_path} lacks the VGG16 arrays {missing}.")
            layer.set_weights([arrays[key] for key in keys])


def gram_matrix(features):
    """Gram matrix divided by C * H * W (the paper misprints the divisor; see naoto#3)."""
    batch, height, width, channels = ops.shape(features)
    flat = ops.reshape(features, (batch, height * width, channels))
    gram = ops.matmul(ops.transpose(flat, (0, 2, 1)), flat)
    return gram / ops.cast(channels * height * width, gram.dtype)


def total_variation_in_dilated_hole(composite, mask):
    """Mean absolute neighbour differences of pairs that both lie in the hole dilated by 1 px.

    Normalised by the number of elements of `composite`, as the paper's other L1 terms.
    """
    dilated_hole = ops.max_pool(1.0 - mask, pool_size=3, strides=1, padding="same")
    horizontal_pairs = dilated_hole[:, :, 1:, :] * dilated_hole[:, :, :-1, :]
    vertical_pairs = dilated_hole[:, 1:, :, :] * dilated_hole[:, :-1, :, :]
    horizontal = ops.abs(composite[:, :, 1:, :] - composite[:, :, :-1, :]) * horizontal_pairs
    vertical = ops.abs(composite[:, 1:, :, :] - composite[:, :-1, :, :]) * vertical_pairs
    count = ops.cast(ops.size(composite), composite.dtype)
    return (ops.sum(horizontal) + ops.sum(vertical)) / count


def structural_similarity(images, references, window=7):
    """Mean SSIM of `images` against `references`, both `(N, H, W, C)` in [0, 1].

    The statistic `holefill evaluate` reports (scikit-image's defaults): a `window` x
    `window` uniform window over the pixels where it fits, sample covariances, K1 = 0.01,
    K2 = 0.03, averaged over pixels, channels and the batch.
    """
    height, width = images.shape[1:3]
    if (height is not None and height < window) or (width is not None and width < window):
        raise ValueError(
            f"SSIM needs images of at least {window}x{window} pixels, got {height}x{width}."
        )
    c1, c2 = 0.01**2, 0.03**2
    sample_correction = window * window / (window * window - 1.0)

    def local_mean(values):
        return ops.average_pool(values, pool_size=window, strides=1, padding="valid")

    mean_x, mean_y = local_mean(images), local_mean(references)
    variance_x = (local_mean(images * images) - mean_x * mean_x) * sample_correction
    variance_y = (local_mean(references * references) - mean_y * mean_y) * sample_correction
    covariance = (local_mean(images * references) - mean_x * mean_y) * sample_correction
    similarity = ((2 * mean_x * mean_y + c1) * (2 * covariance + c2)) / (
        (mean_x * mean_x + mean_y * mean_y + c1) * (variance_x + variance_y + c2)
    )
    return ops.mean(similarity)


def block_mean_difference(images, references, block):
    """Mean absolute difference of the two batches' means over `block` x `block` squares
    (a side that `block` does not divide loses its last partial square)."""

    def block_means(values):
        # Sizes as pairs: Keras's JAX pooling mishandles an int size with no stride.
        return ops.average_pool(values, (block, block), strides=(block, block))

    return ops.mean(ops.abs(block_means(images) - block_means(references)))


class PConvLoss:
    """Computes every term of the paper's loss; `__call__` returns them with their total.

    Args:
        feature_extractor: maps images `(N, H, W, 3)` in [0, 1] to a list of feature maps
            (VGG16 pool1-3 from `build_vgg16_feature_extractor`).
        weights: a `LossWeights`.
    """

    terms = LOSS_TERMS

    def __init__(self, feature_extractor, weights=None):
        self.feature_extractor = feature_extractor
        self.weights = weights or LossWeights()

    def __call__(self, ground_truth, output, mask):
        """Loss terms for `mask` 1 = known, 0 = hole; returns a dict with a "total" entry."""
        ground_truth = ops.cast(ground_truth, "float32")
        output = ops.cast(output, "float32")
        mask = ops.cast(mask, "float32")
        hole = 1.0 - mask
        composite = mask * ground_truth + hole * output

        batch = ops.shape(output)[0]
        perceptual = style_out = style_comp = 0.0
        # One pass over the three image sets instead of three.
        features = (
            self.feature_extractor(ops.concatenate([output, composite, ground_truth], 0))
            if self.weights.uses_features
            else []
        )
        for level in features:
            out_features = level[:batch]
            comp_features = level[batch : 2 * batch]
            truth_features = level[2 * batch :]
            perceptual += ops.mean(ops.abs(out_features - truth_features))
            perceptual += ops.mean(ops.abs(comp_features - truth_features))
            truth_gram = gram_matrix(truth_features)
            style_out += ops.mean(ops.abs(gram_matrix(out_features) - truth_gram))
            style_comp += ops.mean(ops.abs(gram_matrix(comp_features) - truth_gram))

        terms = {
            "valid": ops.mean(ops.abs(mask * (output - ground_truth))),
            "hole": ops.mean(ops.abs(hole * (output - ground_truth))),
            "perceptual": perceptual,
            "style_out": style_out,
            "style_comp": style_comp,
            "tv": total_variation_in_dilated_hole(composite, mask),
            "ssim": (
                1.0 - structural_similarity(composite, ground_truth) if self.weights.ssim else 0.0
            ),
            "low_frequency": (
                block_mean_difference(composite, ground_truth, LOW_FREQUENCY_BLOCK)
                if self.weights.low_frequency
                else 0.0
            ),
        }
        terms["total"] = sum(getattr(self.weights, name) * terms[name] for name in LOSS_TERMS)
        return terms


class BlindMAELoss:
    """The masked L1 that BlindPaint trained its UNet3+ with (`blind_MAE`), in our mask
    convention: mean(|output - truth| * hole) / mean(hole), the mean absolute error per
    hole pixel and channel. `__call__` takes the arguments of `PConvLoss` and returns
    `{"blind_mae": loss, "total": loss}`.
    """

    terms = ("blind_mae",)

    def __call__(self, ground_truth, output, mask):
        hole = 1.0 - ops.cast(mask, "float32")
        error = ops.abs(ops.cast(output, "float32") - ops.cast(ground_truth, "float32"))
        # A batch without holes has nothing to fill: its loss is 0, not 0 / 0.
        loss = ops.mean(error * hole) / ops.maximum(ops.mean(hole), 1e-8)
        return {"blind_mae": loss, "total": loss}
