"""Sharded, atomic, resumable checkpoints."""

import json

import numpy as np
import pytest

from holefill.nn.checkpoints import (
    MAX_SHARD_BYTES,
    latest_checkpoint,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
)


def arrays(count, megabytes, seed=0):
    rng = np.random.default_rng(seed)
    size = int(megabytes * 1e6 / 4)
    return {f"layer_{index}/kernel": rng.random(size, dtype=np.float32) for index in range(count)}


def test_round_trip_in_shards_of_at_most_16_mb(tmp_path):
    model = arrays(5, 6.0)
    optimizer = {"iterations": np.array(7, np.int64)}
    folder = save_checkpoint(tmp_path, 7, {"model": model, "optimizer": optimizer}, {"a": 1})
    shards = sorted(folder.glob("shard-*.npz"))
    assert len(shards) >= 3
    assert all(shard.stat().st_size <= MAX_SHARD_BYTES + 100_000 for shard in shards)
    step, metadata, groups = load_checkpoint(folder)
    assert step == 7 and metadata == {"a": 1}
    for name, value in model.items():
        np.testing.assert_array_equal(groups["model"][name], value)
    assert groups["optimizer"]["iterations"] == 7


def test_latest_pointer_keeps_only_recent_checkpoints(tmp_path):
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path, step, {"model": arrays(1, 0.01, step)}, {}, keep=2)
    assert latest_checkpoint(tmp_path).name == "step-00000004"
    assert sorted(path.name for path in tmp_path.glob("step-*")) == [
        "step-00000003",
        "step-00000004",
    ]
    assert resolve_checkpoint(tmp_path.parent / tmp_path.name) == latest_checkpoint(tmp_path)


def test_an_interrupted_write_leaves_the_previous_checkpoint(tmp_path):
    save_checkpoint(tmp_path, 1, {"model": arrays(1, 0.01)}, {})
    # A run killed mid-write leaves only a hidden temporary folder behind.
    (tmp_path / ".step-00000002.tmp-999").mkdir()
    (tmp_path / ".step-00000002.tmp-999" / "shard-000.npz").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).name == "step-00000001"
    assert json.loads((latest_checkpoint(tmp_path) / "index.json").read_text())["step"] == 1


def test_oversized_array_and_missing_checkpoint_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="exceeds one shard"):
        save_checkpoint(tmp_path, 1, {"model": arrays(1, 17.0)}, {})
    with pytest.raises(ValueError, match="No Holefill checkpoint"):
        resolve_checkpoint(tmp_path / "nothing")
