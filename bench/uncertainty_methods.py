"""Which map ranks a fill's errors: Monte-Carlo dropout against single-pass estimates, side by
side on the same photos, masks and fills.

    .venv/bin/python bench/uncertainty_methods.py --model models/default \
        --images ../shared/data/val/images --masks ../shared/data/val/masks \
        --fit-images ../shared/data/train --fit-every 53 --output docs/uncertainty-methods.md

Every sample is filled as served (`Inpainter`, mask dilation 0); the error is the mean
absolute error over the channels at each hole pixel. The methods: the spread of N dropout
draws (`--draws`), each feature of `holefill.error_map` alone, and `ErrorMap`, their
log-linear combination, fitted on generated masks over `--fit-images` (never on the
photos it is scored on). Prints and writes Spearman's correlation over hole pixels per
hole-ratio bucket, a reliability table of the combination (predicted error in deciles
against the measured RMSE and mean error) and the cost of each map per image.
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from holefill import Inpainter
from holefill.data import generated_validation_set, list_photos, load_validation_set
from holefill.error_map import FEATURES, ErrorMap, error_features
from holefill.masks import HOLE_RATIO_BUCKETS
from holefill.seams import DIFFUSIONS
from holefill.strategies import unit_float


def measure(samples, inpainter, arguments, rng):
    """`(columns, bucket per pixel, seconds)`: sampled hole pixels' MC spread, features
    and error; the seconds of each step per sample."""
    columns, buckets = [], []
    seconds = {"fill": [], "dropout": [], "diffusion": [], "features": []}
    for sample in samples:
        holes = sample.mask[..., 0] < 0.5
        photo = sample.image.astype(np.float32)
        started = time.perf_counter()
        filled = inpainter.inpaint(photo, holes).photo.colour()
        seconds["fill"].append(time.perf_counter() - started)
        fill = unit_float(filled)

        started = time.perf_counter()
        spread = inpainter.inpaint(
            photo, holes, uncertainty_samples=arguments.draws, seed=0
        ).uncertainty.std
        seconds["dropout"].append(time.perf_counter() - started)
        started = time.perf_counter()
        diffusion = DIFFUSIONS["biharmonic"].fill(photo, holes.astype(np.uint8), 3)
        seconds["diffusion"].append(time.perf_counter() - started)
        started = time.perf_counter()
        features = error_features(photo, holes, fill, diffusion)
        seconds["features"].append(time.perf_counter() - started)

        chosen = np.flatnonzero(holes)
        if chosen.size > arguments.pixels:
            chosen = rng.choice(chosen, arguments.pixels, replace=False)
        error = np.abs(fill - photo).mean(axis=2)
        values = [spread, *features, error]
        columns.append(np.stack([value.ravel()[chosen] for value in values]))
        buckets.append(np.full(chosen.size, sample.bucket))
    return np.concatenate(columns, axis=1), np.concatenate(buckets), seconds


def spearman_rows(scores, errors, buckets):
    rows = [
        float(spearmanr(scores[buckets == b], errors[buckets == b]).statistic)
        for b in range(len(HOLE_RATIO_BUCKETS))
    ]
    return [*rows, float(spearmanr(scores, errors).statistic)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--images", type=Path, required=True, help="photos to score on")
    parser.add_argument("--masks", type=Path, required=True, help="NVIDIA-style masks")
    parser.add_argument("--fit-images", type=Path, required=True, help="photos to fit on")
    parser.add_argument("--fit-every", type=int, default=53, help="every Nth fitting photo")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--pixels", type=int, default=2048, help="hole pixels per image")
    parser.add_argument("--limit", type=int, help="score only the first N samples")
    parser.add_argument("--output", type=Path, help="also write the tables here (Markdown)")
    arguments = parser.parse_args()

    inpainter = Inpainter.load(arguments.model, mask_dilation=0)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        for path in list_photos(arguments.fit_images)[:: arguments.fit_every]:
            shutil.copy(path, scratch)
        fitting = generated_validation_set(scratch, size=arguments.size, seed=1)
        fit_columns, _, _ = measure(fitting, inpainter, arguments, rng)
    scoring = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    scoring = scoring[: arguments.limit] if arguments.limit else scoring
    columns, buckets, seconds = measure(scoring, inpainter, arguments, rng)

    error_map = ErrorMap.fit(fit_columns[1:-1], fit_columns[-1])
    predicted = error_map.predict(columns[1:-1])
    errors = columns[-1]
    methods = {f"MC dropout spread, last layer, N={arguments.draws}": columns[0]}
    methods.update({f"{name} alone": columns[1 + i] for i, name in enumerate(FEATURES)})
    methods["ErrorMap (the four, fitted)"] = predicted

    labels = [bucket.label for bucket in HOLE_RATIO_BUCKETS]
    lines = [
        f"Model {arguments.model}, {len(scoring)} samples of {arguments.images} at "
        f"{arguments.size} px ({arguments.pixels} hole pixels each at most); ErrorMap fitted "
        f"on {len(fitting)} samples of one photo in every {arguments.fit_every} of "
        f"{arguments.fit_images} with generated masks. Weights {error_map.to_dict()}.",
        "",
        "Spearman correlation with the absolute error, over hole pixels:",
        "",
        "| map | " + " | ".join(labels) + " | overall |",
        "|---|" + "---:|" * (len(labels) + 1),
    ]
    for name, scores in methods.items():
        rows = spearman_rows(scores, errors, buckets)
        lines.append(f"| {name} | " + " | ".join(f"{value:.3f}" for value in rows) + " |")
    lines += [
        "",
        "Reliability of ErrorMap: pixels in deciles of the predicted error:",
        "",
        "| decile | predicted mean | measured mean abs error | measured RMSE |",
        "|---:|---:|---:|---:|",
    ]
    edges = np.quantile(predicted, np.linspace(0, 1, 11))
    deciles = np.clip(np.searchsorted(edges, predicted, side="right") - 1, 0, 9)
    for decile in range(10):
        chosen = deciles == decile
        lines.append(
            f"| {decile + 1} | {predicted[chosen].mean():.4f} | {errors[chosen].mean():.4f} | "
            f"{np.sqrt(np.mean(np.square(errors[chosen]))):.4f} |"
        )
    median_ms = {step: 1000 * statistics.median(values) for step, values in seconds.items()}
    lines += [
        "",
        "Median cost per image (ms): "
        + ", ".join(f"{step} {value:.0f}" for step, value in median_ms.items())
        + f"; ErrorMap = diffusion + features = "
        f"{median_ms['diffusion'] + median_ms['features']:.0f} ms "
        f"({(median_ms['diffusion'] + median_ms['features']) / median_ms['fill']:.2f}x a fill), "
        f"dropout = {median_ms['dropout'] / median_ms['fill']:.2f}x a fill.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if arguments.output:
        arguments.output.write_text(report)


if __name__ == "__main__":
    main()
