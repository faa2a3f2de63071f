"""Resumable training checkpoints: numpy shards of at most 16 MB, written atomically.

Shards keep every file small enough to move to and from a GPU machine; a checkpoint is
written to a temporary folder and renamed into place, and the `latest` pointer is replaced
atomically, so a run killed at any moment leaves the previous checkpoint intact.

Layout of `<run>/checkpoints/`:

    latest                      name of the newest complete checkpoint
    step-00001000/index.json    step, metadata, and for every array its shard and key
    step-00001000/shard-000.npz ...
"""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

MAX_SHARD_BYTES = 16 * 1000 * 1000
CHECKPOINT_PATTERN = re.compile(r"^step-(\d{8})$")


def save_checkpoint(directory, step, groups, metadata, *, keep=3):
    """Writes `groups` ({group: {name: array}}) as checkpoint `step`; returns its folder.

    Arrays larger than a shard are refused rather than split: no single weight of the
    models here comes near 16 MB.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:08d}"
    temporary = directory / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()

    index = {"step": int(step), "metadata": metadata, "arrays": {}}
    shards, current, current_bytes = [], {}, 0
    for group, arrays in groups.items():
        for name, array in arrays.items():
            array = np.asarray(array)
            if array.nbytes > MAX_SHARD_BYTES:
                raise ValueError(f"{group}/{name} ({array.nbytes} bytes) exceeds one shard.")
            if current and current_bytes + array.nbytes > MAX_SHARD_BYTES:
                shards.append(current)
                current, current_bytes = {}, 0
            key = f"a{len(current)}"
            current[key] = array
            current_bytes += array.nbytes
            index["arrays"][f"{group}/{name}"] = {"shard": len(shards), "key": key}
    shards.append(current)

    for number, arrays in enumerate(shards):
        _write_synced(
            temporary / f"shard-{number:03d}.npz", lambda file, a=arrays: np.savez(file, **a)
        )
    index["shards"] = len(shards)
    _write_synced(
        temporary / "index.json", lambda file: file.write(json.dumps(index, indent=1).encode())
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(temporary, final)
    _write_synced(directory / ".latest.tmp", lambda file: file.write(final.name.encode()))
    os.replace(directory / ".latest.tmp", directory / "latest")
    _remove_old_checkpoints(directory, keep)
    return final


def latest_checkpoint(directory):
    """The newest complete checkpoint folder under `directory`, or None."""
    pointer = Path(directory) / "latest"
    if not pointer.is_file():
        return None
    folder = Path(directory) / pointer.read_text().strip()
    return folder if (folder / "index.json").is_file() else None


def load_checkpoint(folder):
    """Returns `(step, metadata, groups)` with groups as {group: {name: array}}."""
    folder = Path(folder)
    index_path = folder / "index.json"
    if not index_path.is_file():
        raise ValueError(f"{folder} is not a Holefill checkpoint (no index.json).")
    index = json.loads(index_path.read_text())
    shards = [np.load(folder / f"shard-{number:03d}.npz") for number in range(index["shards"])]
    groups = {}
    try:
        for full_name, location in index["arrays"].items():
            group, name = full_name.split("/", 1)
            groups.setdefault(group, {})[name] = shards[location["shard"]][location["key"]]
    finally:
        for shard in shards:
            shard.close()
    return index["step"], index["metadata"], groups


def resolve_checkpoint(path):
    """Accepts a run folder, its `checkpoints/` folder, or one checkpoint folder."""
    path = Path(path)
    for candidate in (path, path / "checkpoints"):
        if (candidate / "index.json").is_file():
            return candidate
        found = latest_checkpoint(candidate)
        if found is not None:
            return found
    raise ValueError(f"No Holefill checkpoint found at {path}.")


def _write_synced(path, write):
    with open(path, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())


def _remove_old_checkpoints(directory, keep):
    complete = sorted(
        folder
        for folder in directory.iterdir()
        if CHECKPOINT_PATTERN.match(folder.name) and (folder / "index.json").is_file()
    )
    for folder in complete[:-keep]:
        shutil.rmtree(folder, ignore_errors=True)
