"""Serving cost of an exported model, measured side by side in one run.

    .venv/bin/python bench/inference.py [--model DIR] [--repetitions 5] [--threads N]
                                        [--dropout-layers L]

Without --model it uses models/default, or, where that does not exist, exports a
width-0.5, depth-8, 512 px U-Net with random weights (the cost of a trained one) to a
temporary folder, with dropout 0.1 on the last L decoder layers (default: the
`PConvUNetConfig` default; --dropout-layers also skips models/default). Every
measurement runs in a fresh process, so that one's imports and memory do not leak into
another's; times are medians over the repetitions.

Prints: cold start (fresh process to the first 512 px result) of the serving path and of
the Keras path; warm 512 px latency p50/p95 of the serving path, Keras under
`tf.function` and OpenCV's Telea; the network's GFLOP/s over numpy's sgemm GFLOP/s; the
serving path's peak RSS; the served fill (the synthesis) against the network's alone and
PatchMatch (`pypatchmatch`, patch radius 3) on the same 512 px photo; a 12-megapixel
photo with a 5% hole (`auto`), JPEG to JPEG, per million hole pixels and relative to one
512 px pass, with its peak RSS; and each uncertainty map relative to one pass (the error
map where the card has one, and N = 4, 8 and 16 Monte-Carlo samples).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_MODEL = Path("models/default")
SIZE = 512
BENCH_CONFIG = {"image_size": SIZE, "depth": 8, "width": 0.5, "dropout_rate": 0.1}
TARGETS = {
    "cold start, serving / Keras": ("<=", 0.2),
    "efficiency, network / sgemm": (">=", 0.8),
    "serving peak RSS (GB)": ("<=", 0.5),
    "warm 512 px inpaint, served / PatchMatch": ("<=", 1.0),
    "12 MP photo, JPEG in to JPEG out (s)": ("<=", 10.0),
    "12 MP peak RSS (GB)": ("<=", 1.0),
    "uncertainty N=16 / one pass": ("<=", 4.0),
    "uncertainty error-map / one pass": ("<=", 1.5),
}
MONTE_CARLO_SAMPLES = (4, 8, 16)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="exported model folder")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--threads", type=int, help="LiteRT threads (default: every CPU)")
    parser.add_argument(
        "--dropout-layers",
        type=int,
        help="export a random model with dropout on this many decoder layers (see above)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        result = CHILDREN[arguments.child](arguments)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as scratch:
        model, description = pick_model(arguments.model, Path(scratch), arguments.dropout_layers)
        print(f"model: {description}")
        arguments.model = model
        arguments.scratch = Path(scratch)
        run_benchmark(arguments)


def pick_model(model, scratch, dropout_layers=None):
    if model is not None:
        return model, str(model)
    if DEFAULT_MODEL.is_dir() and dropout_layers is None:
        return DEFAULT_MODEL, f"{DEFAULT_MODEL} (trained)"
    folder = scratch / "model"
    config = dict(BENCH_CONFIG)
    if dropout_layers is not None:
        config["dropout_layers"] = dropout_layers
    code = (
        "from holefill.export.litert import export_untrained_model\n"
        "from holefill.nn.config import PConvUNetConfig\n"
        "config = PConvUNetConfig(**" + repr(config) + ")\n"
        f"export_untrained_model(config, {str(folder)!r})\n"
        "print(config.dropout_layers)\n"
    )
    exported = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        env={**_environment(), "KERAS_BACKEND": "tensorflow"},
        capture_output=True,
        text=True,
    )
    layers = exported.stdout.split()[-1]
    return folder, (
        f"width 0.5, depth 8, {SIZE} px, dropout 0.1 on {layers} decoder layer(s), random "
        "weights, exported to a temporary folder"
    )


def run_benchmark(arguments):
    serving_cold = [child_seconds("serving-cold", arguments) for _ in range(arguments.repetitions)]
    keras_cold = [child_seconds("keras-cold", arguments) for _ in range(arguments.repetitions)]
    warm = child("serving-warm", arguments)
    keras_warm = child("keras-warm", arguments)
    child("prepare-12mp", arguments)
    large = child("serving-12mp", arguments)

    cold_ratio = statistics.median(serving_cold) / statistics.median(keras_cold)
    rows = [
        ("machine", f"{warm['cpus']} CPUs, LiteRT threads {warm['threads']}"),
        ("cold start, serving path (s)", statistics.median(serving_cold)),
        ("cold start, Keras path (s)", statistics.median(keras_cold)),
        ("cold start, serving / Keras", cold_ratio),
        ("warm 512 px inpaint, serving p50 / p95 (s)", pair(warm["inpaint"])),
        ("warm 512 px network, LiteRT p50 / p95 (s)", pair(warm["network"])),
        ("warm 512 px network, Keras tf.function p50 / p95 (s)", pair(keras_warm["network"])),
        ("warm 512 px inpaint, network fill p50 / p95 (s)", pair(warm["network_fill"])),
        ("warm 512 px, PatchMatch p50 / p95 (s)", pair(warm["patchmatch"])),
        (
            "warm 512 px inpaint, served / PatchMatch",
            warm["inpaint"]["p50"] / warm["patchmatch"]["p50"],
        ),
        ("warm 512 px, OpenCV Telea p50 / p95 (s)", pair(warm["telea"])),
        ("network GFLOP per 512 px tile", warm["gflop"]),
        ("network GFLOP/s (LiteRT p50)", warm["gflop"] / warm["network"]["p50"]),
        ("numpy sgemm GFLOP/s", warm["sgemm_gflops"]),
        (
            "efficiency, network / sgemm",
            warm["gflop"] / warm["network"]["p50"] / warm["sgemm_gflops"],
        ),
        ("serving peak RSS (GB)", warm["peak_rss_gb"]),
        ("12 MP photo, JPEG in to JPEG out (s)", large["end_to_end"]),
        ("12 MP photo, decoded arrays in and out (s)", large["arrays"]),
        ("12 MP strategy chosen by auto", large["strategy"]),
        ("one 512 px pass in that process (s)", large["one_pass"]),
        ("12 MP photo / one 512 px pass", large["end_to_end"] / large["one_pass"]),
        ("12 MP seconds per million hole pixels", large["end_to_end"] / large["hole_megapixels"]),
        ("12 MP peak RSS (GB)", large["peak_rss_gb"]),
    ]
    for method, per_mask in warm["uncertainty"].items():
        for name, measured in per_mask.items():
            rows.append((f"uncertainty {method}, {name} / one pass", measured))
        rows.append((f"uncertainty {method} / one pass", max(per_mask.values())))
    if warm["uncertainty"]:
        rows.append(("uncertainty peak RSS (GB)", warm["uncertainty_peak_rss_gb"]))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        verdict = ""
        if name in TARGETS:
            relation, target = TARGETS[name]
            met = value <= target if relation == "<=" else value >= target
            verdict = f"  target {relation} {target}: {'met' if met else 'MISSED'}"
        print(f"{name:<{width}}  {shown}{verdict}")


def pair(timings):
    return f"{timings['p50']:.3f} / {timings['p95']:.3f}"


def child(mode, arguments):
    command = [sys.executable, __file__, "--child", mode, "--model", str(arguments.model)]
    command += ["--scratch", str(arguments.scratch)]
    command += ["--repetitions", str(arguments.repetitions)]
    if arguments.threads:
        command += ["--threads", str(arguments.threads)]
    completed = subprocess.run(
        command, check=True, capture_output=True, text=True, env=_environment()
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_seconds(mode, arguments):
    started = time.perf_counter()
    child(mode, arguments)
    return time.perf_counter() - started


def _environment():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


# Children: each runs in its own process and returns a JSON-able dict.


def serving_cold(arguments):
    import holefill

    image, holes = bench_photo()
    holefill.Inpainter.load(arguments.model, threads=arguments.threads).inpaint(image, holes)
    return {}


def keras_cold(arguments):
    import keras

    import holefill.nn.layers  # noqa: F401 - registers the layers for deserialisation

    image, holes = bench_photo()
    model = keras.saving.load_model(arguments.model / "model.keras", compile=False)
    known = (~holes).astype("float32")[None, ..., None]
    model({"image": image[None] / 255.0 * known, "mask": known})
    return {}


def serving_warm(arguments):
    import cv2
    import numpy as np

    import holefill
    from holefill.evaluation.baselines import CLASSICAL_METHODS
    from holefill.inference.runtime import available_cpus
    from holefill.masks.generator import MaskGenerator

    inpainter = holefill.Inpainter.load(
        arguments.model, threads=arguments.threads, validated_uncertainty_only=False
    )
    model = inpainter.model
    image, holes = bench_photo()
    known = (~holes).astype(np.float32)[..., None]
    tile = image.astype(np.float32) / 255.0
    masks = {
        "object hole 10-20%": MaskGenerator(3).region(SIZE, SIZE, (0.1, 0.2))[..., 0] < 0.5,
        "stroke holes 10-20%": MaskGenerator(3).irregular(SIZE, SIZE, (0.1, 0.2))[..., 0] < 0.5,
    }
    repetitions = max(5, arguments.repetitions)
    result = {
        "cpus": available_cpus(),
        "threads": model.threads,
        "gflop": model.card.gflop_per_tile,
        "network": timings(lambda: model.predict(tile, known), repetitions),
        "inpaint": timings(lambda: inpainter.inpaint(image, holes), repetitions),
        "network_fill": timings(
            lambda: inpainter.inpaint(image, holes, fill="network"), repetitions
        ),
        "patchmatch": timings(lambda: CLASSICAL_METHODS["patchmatch"](tile, known), repetitions),
        "telea": timings(
            lambda: cv2.inpaint(image, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA), repetitions
        ),
        "sgemm_gflops": sgemm_gflops(repetitions),
        "peak_rss_gb": peak_rss_gb(),  # before uncertainty loads its own two graphs
        "uncertainty": {},
    }
    methods = {}
    if inpainter.error_map is not None:
        methods["error-map"] = {"uncertainty": "error-map"}
    if model.supports_uncertainty:
        for samples in MONTE_CARLO_SAMPLES:
            options = {"uncertainty": "monte-carlo", "uncertainty_samples": samples}
            methods[f"N={samples}"] = options
    for name, mask in masks.items():
        one = timings(lambda mask=mask: inpainter.inpaint(image, mask), repetitions)["p50"]
        for method, options in methods.items():
            mapped = timings(
                lambda mask=mask, options=options: inpainter.inpaint(image, mask, **options),
                repetitions,
            )
            result["uncertainty"].setdefault(method, {})[name] = mapped["p50"] / one
    if methods:
        result["uncertainty_peak_rss_gb"] = peak_rss_gb()
    return result


def keras_warm(arguments):
    import keras
    import numpy as np
    import tensorflow as tf

    import holefill.nn.layers  # noqa: F401 - registers the layers for deserialisation

    image, holes = bench_photo()
    model = keras.saving.load_model(arguments.model / "model.keras", compile=False)
    known = (~holes).astype(np.float32)[None, ..., None]
    inputs = {"image": image[None].astype(np.float32) / 255.0 * known, "mask": known}
    run = tf.function(lambda inputs: model(inputs, training=False))
    return {"network": timings(lambda: run(inputs).numpy(), max(5, arguments.repetitions))}


def prepare_12mp(arguments):
    """Writes the 12 MP photo (JPEG) and its 5% hole (PNG) for `serving_12mp` to read."""
    import cv2
    import numpy as np

    from holefill.masks.generator import MaskGenerator

    height, width = 3000, 4000
    photo = synthetic_photo(height, width)
    cv2.imwrite(str(arguments.scratch / "12mp.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    holes = MaskGenerator(5).region(height, width, (0.045, 0.055))[..., 0] < 0.5
    cv2.imwrite(str(arguments.scratch / "12mp-mask.png"), holes.astype(np.uint8) * 255)
    return {}


def serving_12mp(arguments):
    import numpy as np

    import holefill
    from holefill.imaging.masks import read_mask
    from holefill.imaging.photos import read_photo

    inpainter = holefill.Inpainter.load(arguments.model, threads=arguments.threads)
    # What a server holds: the request's bytes.
    photo_file = (arguments.scratch / "12mp.jpg").read_bytes()
    mask_file = (arguments.scratch / "12mp-mask.png").read_bytes()
    tile, known = np.zeros((SIZE, SIZE, 3), np.float32), np.ones((SIZE, SIZE, 1), np.float32)
    known[200:300, 200:300] = 0
    repetitions = arguments.repetitions
    one_pass = timings(lambda: inpainter.model.predict(tile, known), max(5, repetitions))
    strategy = inpainter.inpaint(photo_file, mask_file).strategy
    end_to_end = timings(lambda: inpainter.inpaint(photo_file, mask_file).encode(), repetitions)
    peak = peak_rss_gb()
    # The same without the codecs, for comparison.
    decoded = read_photo(photo_file).to_output()
    holes = read_mask(mask_file, decoded.size[::-1])
    arrays = timings(lambda: inpainter.inpaint(decoded, holes).image, repetitions)
    return {
        "one_pass": one_pass["p50"],
        "end_to_end": end_to_end["p50"],
        "arrays": arrays["p50"],
        "strategy": strategy,
        "hole_megapixels": np.count_nonzero(holes) / 1e6,
        "peak_rss_gb": peak,
    }


CHILDREN = {
    "prepare-12mp": prepare_12mp,
    "serving-cold": serving_cold,
    "keras-cold": keras_cold,
    "serving-warm": serving_warm,
    "keras-warm": keras_warm,
    "serving-12mp": serving_12mp,
}


def bench_photo():
    """A 512 px photo and its holes: one object of 10-20%, the same in every process."""
    from holefill.masks.generator import MaskGenerator

    known = MaskGenerator(1).region(SIZE, SIZE, (0.1, 0.2))
    return synthetic_photo(SIZE, SIZE), known[..., 0] < 0.5


def synthetic_photo(height, width):
    """Smooth gradients with texture, like a photo (and as costly to encode)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    columns = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    base = 0.3 + 0.4 * rows * np.array([1.0, 0.6, 0.2]) + 0.3 * columns * np.array([0.2, 0.5, 1])
    texture = rng.normal(0, 0.03, (height, width, 1)).astype(np.float32)
    return np.clip((base + texture) * 255, 0, 255).astype(np.uint8)


def timings(function, repetitions):
    """p50 and p95 seconds of `function` after one warm-up call."""
    import numpy as np

    function()
    seconds = []
    for _ in range(repetitions):
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    return {"p50": float(np.percentile(seconds, 50)), "p95": float(np.percentile(seconds, 95))}


def sgemm_gflops(repetitions, size=2048):
    import numpy as np

    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = np.random.default_rng(1).random((size, size), dtype=np.float32)
    seconds = timings(lambda: a @ b, repetitions)["p50"]
    return 2 * size**3 / seconds / 1e9


def peak_rss_gb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


if __name__ == "__main__":
    main()
