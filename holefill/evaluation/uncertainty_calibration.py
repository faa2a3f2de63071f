"""Fits an exported model's error map and judges both uncertainty maps: the card's
`uncertainty` section (`holefill calibrate-uncertainty`).

Every sample is inpainted as served (`Inpainter`, its seams and diffusion); the error of a
hole pixel is the mean absolute error over its channels. The error map is fitted on
photos outside the validation set and scored on the validation set, with the
Monte-Carlo spread of the same fills beside it.

Card section:

    uncertainty {
        default: the offered method with the highest overall Spearman, or null
        methods {method: {offered, why, unit, full_scale, validation, ...}}
            validation {set, samples, size, pixels, spearman {bucket: value, overall},
                        reliability [{decile, predicted, mean_error, rmse}], seconds}
            error-map also: error_map {features, weights, scale}, fitted_on {...}
            monte-carlo also: samples
    }
"""

import dataclasses
import shutil
import statistics
import tempfile
import time

import numpy as np

from holefill.inference.error_map import ErrorMap, hole_features
from holefill.inference.seams import DEFAULT_SEAMS, diffuse_holes
from holefill.inference.strategies import unit_float
from holefill.inference.uncertainty import FULL_SCALES, METHODS, OVERALL, UNITS, judge
from holefill.masks.buckets import HOLE_RATIO_BUCKETS

DECILES = 10


@dataclasses.dataclass(frozen=True)
class Measurements:
    """Sampled hole pixels of served fills: their features `(4, pixels)`, absolute
    `errors`, Monte-Carlo `spread` (None without draws), `buckets` and any `extra` maps;
    the median seconds per image of each step (`fill`, `error_map` features,
    `monte_carlo`)."""

    features: np.ndarray
    errors: np.ndarray
    spread: np.ndarray | None
    buckets: np.ndarray
    seconds: dict[str, float]
    extra: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def fitting_samples(images_dir, *, every, size):
    """Samples to fit an error map on: every `every`th photo of `images_dir`, with a
    generated mask per hole-ratio bucket of strokes (as the validation masks draw them)
    and one of objects (as users paint them)."""
    from holefill.evaluation.validation_sets import generated_validation_set
    from holefill.imaging.folders import list_photos

    photos = list_photos(images_dir)[::every]
    if not photos:
        raise ValueError(f"no photos in {images_dir} to fit the error map on.")
    with tempfile.TemporaryDirectory() as scratch:
        for path in photos:
            shutil.copy(path, scratch)
        return [
            sample
            for family in ("strokes", "objects")
            for sample in generated_validation_set(scratch, size=size, family=family, seed=1)
        ]


def measure(inpainter, samples, *, draws=0, pixels_per_image=2048, seed=0, extra_maps=None):
    """Fills `samples` (with `image`, `mask` and `bucket`) as `inpainter` serves them.

    `inpainter` should not dilate masks (`mask_dilation=0`), so that the holes scored are
    the mask's, and may run unvalidated methods. With `draws`, each fill also draws that
    many Monte-Carlo samples (the fill itself is the deterministic network either way).
    `extra_maps` (`{name: map(photo, holes, filled)}`, each a `(height, width)` array) are
    sampled at the same pixels, to compare other methods with these.
    """
    extra_maps = extra_maps or {}
    if not samples:
        raise ValueError("measure() needs at least one sample.")
    rng = np.random.default_rng(seed)
    columns, buckets = [], []
    seconds = {"fill": [], "error_map": [], "monte_carlo": []}
    blend = inpainter.seams or DEFAULT_SEAMS
    for index, sample in enumerate(samples):
        holes = sample.mask[..., 0] < 0.5
        photo = sample.image.astype(np.float32)
        started = time.perf_counter()
        if draws:
            inpainting = inpainter.inpaint(
                photo, holes, uncertainty="monte-carlo", uncertainty_samples=draws, seed=index
            )
            seconds["monte_carlo"].append(time.perf_counter() - started)
        else:
            inpainting = inpainter.inpaint(photo, holes)
            seconds["fill"].append(time.perf_counter() - started)
        filled = inpainting.photo.colour()
        started = time.perf_counter()
        # Served, the seams' diffusion is computed once and shared; here it is timed.
        features = hole_features(photo, holes, filled, diffuse_holes(photo, holes, blend))
        seconds["error_map"].append(time.perf_counter() - started)

        errors = np.abs(unit_float(filled) - photo).mean(axis=2)[holes]
        values = [*features, errors]
        if draws:
            values.append(inpainting.uncertainty.values[holes])
        values += [extra(photo, holes, filled)[holes] for extra in extra_maps.values()]
        chosen = np.arange(errors.size)
        if errors.size > pixels_per_image:
            chosen = rng.choice(errors.size, pixels_per_image, replace=False)
        columns.append(np.stack([value[chosen] for value in values]))
        buckets.append(np.full(chosen.size, sample.bucket))
    columns = np.concatenate(columns, axis=1)
    first_extra = 6 if draws else 5
    return Measurements(
        features=columns[:4],
        errors=columns[4],
        spread=columns[5] if draws else None,
        buckets=np.concatenate(buckets),
        seconds={step: statistics.median(times) for step, times in seconds.items() if times},
        extra={name: columns[first_extra + i] for i, name in enumerate(extra_maps)},
    )


def validate(scores, errors, buckets):
    """How `scores` rank `errors` over hole pixels: Spearman per bucket present and
    overall, and the reliability table (pixels in deciles of the score)."""
    from scipy.stats import spearmanr

    spearman = {
        HOLE_RATIO_BUCKETS[bucket].label: float(
            spearmanr(scores[buckets == bucket], errors[buckets == bucket]).statistic
        )
        for bucket in sorted(set(buckets.tolist()))
    }
    spearman[OVERALL] = float(spearmanr(scores, errors).statistic)
    edges = np.quantile(scores, np.linspace(0, 1, DECILES + 1))
    deciles = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, DECILES - 1)
    reliability = []
    for decile in range(DECILES):
        chosen = deciles == decile
        reliability.append(
            {
                "decile": decile + 1,
                "predicted": float(scores[chosen].mean()),
                "mean_error": float(errors[chosen].mean()),
                "rmse": float(np.sqrt(np.mean(np.square(errors[chosen])))),
            }
        )
    return {"pixels": int(scores.size), "spearman": spearman, "reliability": reliability}


def uncertainty_section(fitting, scoring, *, draws, described_sets):
    """The card's `uncertainty` section and the fitted `ErrorMap`.

    Args:
        fitting: `Measurements` of the photos the error map is fitted on.
        scoring: `Measurements` of the validation set, with a Monte-Carlo `spread`.
        draws: the Monte-Carlo samples behind `scoring.spread`.
        described_sets: `{"fitted_on": {...}, "validation": {...}}`, what each set is.
    """
    if scoring.spread is None:
        raise ValueError("the validation measurements need Monte-Carlo draws.")
    error_map = ErrorMap.fit(fitting.features, fitting.errors)
    scores = {
        "error-map": error_map.predict(scoring.features),
        "monte-carlo": scoring.spread,
    }
    seconds = {"error-map": scoring.seconds["error_map"], "monte-carlo": None}
    methods = {}
    for method in METHODS:
        validation = {
            **described_sets["validation"],
            **validate(scores[method], scoring.errors, scoring.buckets),
        }
        offered, why = judge(validation)
        methods[method] = {
            "offered": offered,
            "why": why,
            "unit": UNITS[method],
            "full_scale": FULL_SCALES[method],
            "validation": validation,
        }
    methods["error-map"]["error_map"] = error_map.to_dict()
    methods["error-map"]["fitted_on"] = described_sets["fitted_on"]
    methods["error-map"]["seconds_per_image"] = seconds["error-map"]
    methods["monte-carlo"]["samples"] = draws
    methods["monte-carlo"]["seconds_per_image"] = scoring.seconds["monte_carlo"]
    offered = [method for method in METHODS if methods[method]["offered"]]
    default = max(
        offered, key=lambda method: methods[method]["validation"]["spearman"][OVERALL], default=None
    )
    return {"default": default, "methods": methods}, error_map


def to_markdown(section):
    """The comparison and reliability tables of a card's `uncertainty` section."""
    methods = section["methods"]
    rows = list(methods["error-map"]["validation"]["spearman"])
    lines = [
        "Spearman correlation with the absolute error, over hole pixels of the validation set:",
        "",
        "| map | " + " | ".join(rows) + " | offered |",
        "|---|" + "---:|" * len(rows) + "---|",
    ]
    for method, described in methods.items():
        spearman = described["validation"]["spearman"]
        name = method + (f", N={described['samples']}" if method == "monte-carlo" else "")
        lines.append(
            f"| {name} | "
            + " | ".join(f"{spearman[row]:.3f}" for row in rows)
            + f" | {'yes' if described['offered'] else 'no'} |"
        )
    for method, described in methods.items():
        lines += reliability_markdown(f"{method} ({described['why']})", described["validation"])
    return "\n".join(lines) + "\n"


def reliability_markdown(name, validation):
    """The lines of a map's reliability table (a `validate` result), titled by `name`."""
    lines = [
        "",
        f"Reliability of {name}: hole pixels in deciles of the map:",
        "",
        "| decile | map mean | measured mean abs error | measured RMSE |",
        "|---:|---:|---:|---:|",
    ]
    return lines + [
        f"| {row['decile']} | {row['predicted']:.4f} | {row['mean_error']:.4f} | "
        f"{row['rmse']:.4f} |"
        for row in validation["reliability"]
    ]
