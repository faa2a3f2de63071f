"""Does LiteRT give the same output on linux aarch64 as on this x86_64 machine?

Runs models/default/model.tflite here and under an aarch64 Python (QEMU user emulation) on
the same deterministic inputs, with the same thread counts, and prints, per input and
thread count, the max and mean absolute difference over the output tile and the max over
hole pixels only, against a tolerance (1e-5 by default). Exits 1 when any exceeds it.

What it needs, all from Debian's and PyPI's mirrors (as root; bookworm host):

    apt-get update && apt-get install -y qemu-user-static debootstrap
    # Bookworm's QEMU (7.2) segfaults inside LiteRT's allocate_tensors; trixie's (10.0) works.
    # Its qemu-user package is static-pie, so its binary runs on bookworm unpacked as it is:
    mkdir -p /tmp/trixie-apt/lists/partial /tmp/trixie-apt/cache/archives/partial
    echo "deb http://deb.debian.org/debian trixie main" > /tmp/trixie-apt/sources.list
    APT="-o Dir::Etc::sourcelist=/tmp/trixie-apt/sources.list
         -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists=/tmp/trixie-apt/lists
         -o Dir::Cache=/tmp/trixie-apt/cache"
    apt-get $APT update && (cd /tmp/trixie-apt && apt-get $APT download qemu-user)
    dpkg-deb -x /tmp/trixie-apt/qemu-user_*.deb /tmp/qemu10
    # An aarch64 CPython 3.11 (bookworm's); the second stage runs through binfmt_misc:
    debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 bookworm \\
        /tmp/arm64root http://deb.debian.org/debian
    # binfmt_misc only for debootstrap's second stage (the comparison itself runs QEMU by
    # name): register Debian's rule, /usr/share/binfmts/qemu-aarch64, with the F flag.
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc  # if not mounted yet
    echo ':qemu-aarch64:M::<magic>:<mask>:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:FP' \
        > /proc/sys/fs/binfmt_misc/register  # magic and mask as in that file
    chroot /tmp/arm64root /debootstrap/debootstrap --second-stage
    # The aarch64 wheels, installed by the host's pip (pip never runs emulated); the same
    # versions as the x86 side (.venv):
    .venv/bin/python -m pip install --only-binary=:all: --platform manylinux_2_28_aarch64 \\
        --platform manylinux_2_27_aarch64 --platform manylinux2014_aarch64 \\
        --python-version 3.11 --implementation cp --abi cp311 --target /tmp/arm64site \\
        numpy==2.4.6 ai-edge-litert==2.3.0

Then:

    .venv/bin/python bench/litert_arm64.py --arm64-python \\
        "/tmp/qemu10/usr/bin/qemu-aarch64 -cpu neoverse-n1 -L /tmp/arm64root \\
        /tmp/arm64root/usr/bin/python3.11" --arm64-site /tmp/arm64site

`-cpu neoverse-n1` is Graviton2's core (Lambda's arm64): NEON only, and about ten times
faster to emulate than QEMU's default `max`, whose SVE and SME make XNNPACK pick other
kernels (Graviton3 and 4 have SVE); `--tile-size 128` keeps a `-cpu max` run short.
One 512 px tile takes about a minute emulated (neoverse-n1), a quarter of a second here.

The same file is the worker that the aarch64 Python runs (`--worker`): it needs only numpy
and ai-edge-litert, never holefill, so that the aarch64 side needs no more wheels.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPOSITORY / "models" / "default" / "model.tflite"
# "default" leaves num_threads unset (LiteRT picks); 2 is what a 3,538 MB Lambda has.
DEFAULT_THREADS = "1,2,default"
SEED = 20240601


def make_inputs(tile_size):
    """Deterministic tiles, made once here and read by both sides from the same file."""
    generator = np.random.default_rng(SEED)
    known = np.ones((tile_size, tile_size, 1), np.float32)
    # A few rectangular holes of different sizes, some touching the border, where a
    # mismatch would show first: the model's output there is wholly its own.
    unit = tile_size // 16
    for top, left, height, width in [
        (2, 3, 3, 5),
        (8, 9, 4, 4),
        (0, 12, 2, 4),
        (11, 0, 3, 2),
        (6, 6, 1, 1),
    ]:
        known[top * unit : (top + height) * unit, left * unit : (left + width) * unit] = 0.0
    rows, columns = np.meshgrid(
        np.linspace(0.0, 1.0, tile_size, dtype=np.float32),
        np.linspace(0.0, 1.0, tile_size, dtype=np.float32),
        indexing="ij",
    )
    gradient = np.stack(
        [rows, columns, 0.5 + 0.4 * np.sin(6.0 * rows + 4.0 * columns)], axis=-1
    ).astype(np.float32)
    random = generator.random((tile_size, tile_size, 3), dtype=np.float32)
    # As the service feeds it: holes zeroed in the image.
    return {
        "random": (random * known, known),
        "gradient": (gradient * known, known),
    }


def parse_threads(text):
    settings = []
    for item in text.split(","):
        item = item.strip()
        if item == "default":
            settings.append(None)
        elif item.isdigit() and int(item) >= 1:
            settings.append(int(item))
        else:
            raise ValueError(f"a thread count is a positive integer or 'default', got {item!r}.")
    return settings


def thread_label(threads):
    return "default" if threads is None else str(threads)


def run_model(model_path, inputs_path, output_dir, threads_text):
    """Runs every input at every thread count; writes outputs and timings to output_dir."""
    from ai_edge_litert.interpreter import Interpreter

    stored = np.load(inputs_path)
    names = sorted({key.rsplit("/", 1)[0] for key in stored.files})
    output_dir = Path(output_dir)
    report = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ai_edge_litert": _version_of("ai-edge-litert"),
        "seconds": {},
    }
    for threads in parse_threads(threads_text):
        interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
        by_name = _input_indices(interpreter)
        tile_size = stored[f"{names[0]}/image"].shape[0]
        for detail in interpreter.get_input_details():
            # Only a smaller tile is resized, so the model's own size runs as the service runs it.
            if int(detail["shape"][1]) != tile_size:
                shape = [1, tile_size, tile_size, int(detail["shape"][-1])]
                interpreter.resize_tensor_input(detail["index"], shape, strict=False)
        interpreter.allocate_tensors()
        output_index = interpreter.get_output_details()[0]["index"]
        label = thread_label(threads)
        timings = {}
        for position, name in enumerate(names):
            interpreter.set_tensor(by_name["image"], stored[f"{name}/image"][None])
            interpreter.set_tensor(by_name["mask"], stored[f"{name}/mask"][None])
            if position == 0:
                # The first invoke also packs XNNPACK's weights: timed apart, not counted.
                started = time.perf_counter()
                interpreter.invoke()
                timings["first_invoke"] = time.perf_counter() - started
            started = time.perf_counter()
            interpreter.invoke()
            timings[name] = time.perf_counter() - started
            output = interpreter.get_tensor(output_index)[0]
            np.save(output_dir / f"{name}-threads-{label}.npy", output)
        report["seconds"][label] = timings
    (output_dir / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _input_indices(interpreter):
    """Maps 'image' and 'mask' to tensor indices by name: their order is not guaranteed."""
    indices = {}
    for detail in interpreter.get_input_details():
        for role in ("image", "mask"):
            if role in detail["name"]:
                indices[role] = detail["index"]
    if set(indices) != {"image", "mask"}:
        names = [detail["name"] for detail in interpreter.get_input_details()]
        raise ValueError(f"expected an image and a mask input, the model has {names}.")
    return indices


def _version_of(distribution):
    from importlib.metadata import version

    return version(distribution)


def compare(host_dir, arm_dir, names, threads_text, inputs_path, tolerance):
    stored = np.load(inputs_path)
    rows = []
    for threads in parse_threads(threads_text):
        label = thread_label(threads)
        for name in names:
            host = np.load(Path(host_dir) / f"{name}-threads-{label}.npy")
            arm = np.load(Path(arm_dir) / f"{name}-threads-{label}.npy")
            difference = np.abs(host.astype(np.float64) - arm.astype(np.float64))
            holes = stored[f"{name}/mask"][..., 0] == 0.0
            rows.append(
                {
                    "input": name,
                    "threads": label,
                    "max": float(difference.max()),
                    "mean": float(difference.mean()),
                    "max_in_holes": float(difference[holes].max()),
                    "identical": bool(np.array_equal(host, arm)),
                }
            )
    # The same side at different thread counts: how much threading alone moves the output.
    settings = [thread_label(threads) for threads in parse_threads(threads_text)]
    threading = []
    for side, directory in (("x86_64", host_dir), ("aarch64", arm_dir)):
        for name in names:
            first = np.load(Path(directory) / f"{name}-threads-{settings[0]}.npy")
            for other in settings[1:]:
                second = np.load(Path(directory) / f"{name}-threads-{other}.npy")
                threading.append(
                    {
                        "side": side,
                        "input": name,
                        "threads": f"{settings[0]} vs {other}",
                        "max": float(np.abs(first - second).max()),
                    }
                )
    within = all(row["max"] <= tolerance for row in rows)
    return rows, threading, within


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument(
        "--arm64-python",
        help="the command that starts an aarch64 Python, QEMU and all (split like a shell)",
    )
    parser.add_argument("--arm64-site", type=Path, help="where the aarch64 wheels lie")
    parser.add_argument("--threads", default=DEFAULT_THREADS, help="e.g. 1,2,default")
    parser.add_argument("--tile-size", type=int, help="defaults to the model's input size")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--keep", type=Path, help="a folder to keep inputs and outputs in")
    parser.add_argument(
        "--worker", nargs=2, metavar=("INPUTS", "OUTPUT_DIR"), help=argparse.SUPPRESS
    )
    arguments = parser.parse_args()

    if arguments.worker:
        inputs_path, output_dir = arguments.worker
        run_model(arguments.model, inputs_path, output_dir, arguments.threads)
        return 0
    if not arguments.arm64_python or not arguments.arm64_site:
        raise ValueError("--arm64-python and --arm64-site are both needed (see the docstring).")
    parse_threads(arguments.threads)  # fails here, not after minutes of emulation

    from ai_edge_litert.interpreter import Interpreter

    tile_size = arguments.tile_size
    if tile_size is None:
        details = Interpreter(model_path=str(arguments.model)).get_input_details()
        tile_size = int(details[0]["shape"][1])

    with tempfile.TemporaryDirectory(prefix="litert-arm64-") as scratch:
        work = Path(arguments.keep or scratch)
        host_dir, arm_dir = work / "x86_64", work / "aarch64"
        host_dir.mkdir(parents=True, exist_ok=True)
        arm_dir.mkdir(parents=True, exist_ok=True)
        inputs = make_inputs(tile_size)
        inputs_path = work / "inputs.npz"
        flat = {}
        for name, (image, known) in inputs.items():
            flat[f"{name}/image"], flat[f"{name}/mask"] = image, known
        np.savez(inputs_path, **flat)

        host = run_model(arguments.model, inputs_path, host_dir, arguments.threads)
        command = [
            *shlex.split(arguments.arm64_python),
            str(Path(__file__).resolve()),
            "--model",
            str(arguments.model.resolve()),
            "--threads",
            arguments.threads,
            "--worker",
            str(inputs_path),
            str(arm_dir),
        ]
        # Only the aarch64 wheels on its path: the host's venv or PYTHONPATH would mix in
        # x86 extension modules.
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        }
        environment["PYTHONPATH"] = str(arguments.arm64_site.resolve())
        print("emulated:", shlex.join(command), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=environment)
        emulated_seconds = time.perf_counter() - started
        arm = json.loads((arm_dir / "report.json").read_text())
        if arm["machine"] != "aarch64":
            raise ValueError(f"--arm64-python ran on {arm['machine']}, not aarch64.")

        rows, threading, within = compare(
            host_dir,
            arm_dir,
            sorted(inputs),
            arguments.threads,
            inputs_path,
            arguments.tolerance,
        )

    print(f"\nmodel {arguments.model}, tile {tile_size} px, tolerance {arguments.tolerance:g}")
    for side in (host, arm):
        print(
            f"{side['machine']}: Python {side['python']}, numpy {side['numpy']}, "
            f"ai-edge-litert {side['ai_edge_litert']}"
        )
    print(f"(the emulated run took {emulated_seconds:.0f} s in all)")
    print("\nseconds per invoke (first_invoke: the first, with XNNPACK's set-up)")
    for label in host["seconds"]:
        for key in host["seconds"][label]:
            print(
                f"  threads {label:>7}  {key:<12}  x86_64 {host['seconds'][label][key]:8.3f}"
                f"  aarch64 {arm['seconds'][label][key]:8.3f}"
            )
    print("\nx86_64 against aarch64, absolute differences over the output tile")
    print(f"  {'input':<9} {'threads':>7} {'max':>10} {'mean':>10} {'max holes':>10}  identical")
    for row in rows:
        print(
            f"  {row['input']:<9} {row['threads']:>7} {row['max']:10.3g} {row['mean']:10.3g}"
            f" {row['max_in_holes']:10.3g}  {row['identical']}"
        )
    if threading:
        print("\nthread counts against each other, on one side (max absolute difference)")
        for row in threading:
            print(f"  {row['side']:<8} {row['input']:<9} {row['threads']:<16} {row['max']:.3g}")
    print(f"\nwithin {arguments.tolerance:g}: {within}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
