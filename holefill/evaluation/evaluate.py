"""Evaluation of inpainting methods per hole-ratio bucket, and its reports.

`evaluate` runs every method on every validation sample, scores the composited outputs
with metrics of `holefill.evaluation.metrics.METRICS` (PSNR, SSIM, LPIPS, L1 and the
texture ratio by default), batch by batch, and averages the scores per hole-ratio bucket
(the six buckets of the NVIDIA irregular-mask test set) and overall. The resulting
`EvaluationResult` renders as JSON, as Markdown tables and as a chart.
"""

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from holefill.evaluation.metrics import METRICS, composite
from holefill.masks.buckets import BUCKET_LABELS

OVERALL = "overall"

JSON_FILENAME = "evaluation.json"
MARKDOWN_FILENAME = "evaluation.md"
CHART_FILENAME = "evaluation.png"
UNCERTAINTY_FILENAME = "uncertainty.json"

# (image, mask) -> image, on single images or on batches: see `batched`.
InpaintingMethod = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Sample(Protocol):
    """What `evaluate` reads from a validation sample (`validation_sets.ValidationSample`)."""

    # Read-only properties, so that frozen dataclasses match too.
    @property
    def image(self) -> np.ndarray:
        """``(S, S, 3)`` float32 in [0, 1]: the ground truth."""

    @property
    def mask(self) -> np.ndarray:
        """``(S, S, 1)`` float32, 1 = known pixel, 0 = hole."""

    @property
    def bucket(self) -> int:
        """Hole-ratio bucket: an index into `BUCKET_LABELS`."""


def batched(method: InpaintingMethod) -> InpaintingMethod:
    """Turns a per-image method ``(image, mask) -> image``, such as the classical baselines,
    into the batched form ``(images, masks) -> images`` that `evaluate` takes."""

    def batched_method(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
        return np.stack([method(image, mask) for image, mask in zip(images, masks, strict=True)])

    return batched_method


@dataclasses.dataclass
class EvaluationResult:
    """Mean scores per method, metric and bucket.

    ``scores[metric][method][row]`` is the mean of ``metric`` over the samples of ``row``,
    where a row is a bucket label or ``"overall"``, leaving out the samples where the metric
    is undefined (nan when it is for all of them); ``counts[row]`` is its number of samples.
    ``buckets`` lists, in order, the labels of the buckets that had samples.
    """

    methods: list[str]
    metrics: list[str]
    buckets: list[str]
    counts: dict[str, int]
    scores: dict[str, dict[str, dict[str, float]]]
    seconds_per_image: dict[str, float]

    @property
    def rows(self) -> list[str]:
        return [*self.buckets, OVERALL]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def best_methods(self, metric: str, row: str) -> list[str]:
        """The methods with the best mean ``metric`` in ``row`` (several when tied; none when
        ``metric`` is undefined there)."""
        keys = {
            method: METRICS[metric].sort_key(self.scores[metric][method][row])
            for method in self.methods
        }
        best_key = min(keys.values())
        return [method for method, key in keys.items() if key == best_key]

    def to_markdown(self) -> str:
        """One table per metric: a row per bucket (and overall), a column per method, the
        best value of each row in bold."""
        lines = ["# Evaluation", ""]
        for metric in self.metrics:
            spec = METRICS[metric]
            lines += [
                f"## {spec.label}, {spec.direction} is better",
                "",
                "| hole ratio | samples | " + " | ".join(self.methods) + " |",
                "|---|---:|" + "---:|" * len(self.methods),
            ]
            for row in self.rows:
                best = self.best_methods(metric, row)
                cells = []
                for method in self.methods:
                    cell = f"{self.scores[metric][method][row]:.{spec.decimals}f}"
                    cells.append(f"**{cell}**" if method in best else cell)
                lines.append(f"| {row} | {self.counts[row]} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += [
            "## Speed",
            "",
            "| method | seconds per image |",
            "|---|---:|",
            *(f"| {method} | {self.seconds_per_image[method]:.3f} |" for method in self.methods),
            "",
        ]
        return "\n".join(lines)

    def save_chart(self, path: str | Path) -> None:
        """A PNG chart: one panel per metric, the buckets along x, one line per method."""
        # matplotlib is needed only here (it comes with the `train` extra). A bare Figure
        # draws with Agg and leaves pyplot's global state alone.
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5 * len(self.metrics), 4), layout="constrained")
        axes = figure.subplots(1, len(self.metrics), squeeze=False)[0]
        for axis, metric in zip(axes, self.metrics, strict=True):
            spec = METRICS[metric]
            for method in self.methods:
                values = [self.scores[metric][method][bucket] for bucket in self.buckets]
                axis.plot(self.buckets, values, marker="o", label=method)
            axis.set_title(f"{spec.label} ({spec.direction} is better)")
            axis.set_xlabel("hole ratio")
            axis.tick_params(axis="x", labelrotation=30)
            axis.grid(alpha=0.3)
        axes[0].legend()
        figure.savefig(path, dpi=100)

    def save(self, directory: str | Path) -> None:
        """Writes ``evaluation.json``, ``evaluation.md`` and ``evaluation.png`` into
        ``directory``, creating it if needed."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / JSON_FILENAME).write_text(self.to_json() + "\n")
        (directory / MARKDOWN_FILENAME).write_text(self.to_markdown())
        self.save_chart(directory / CHART_FILENAME)


def evaluate(
    samples: Sequence[Sample],
    methods: Mapping[str, InpaintingMethod],
    *,
    metrics: Sequence[str] | None = None,
    batch_size: int = 8,
    progress: bool = True,
) -> EvaluationResult:
    """Scores every method on every sample, per hole-ratio bucket and overall.

    Args:
        samples: objects with ``image`` (``(S, S, 3)``, the ground truth), ``mask``
            (``(S, S, 1)``, 1 = known) and ``bucket`` (0 to 5) attributes, such as
            `holefill.training.data.ValidationSample`.
        methods: display name -> batched method ``(images, masks) -> outputs`` on arrays of
            shapes ``(N, S, S, 3)``, ``(N, S, S, 1)`` and ``(N, S, S, 3)``. The images a
            method receives are zero inside the hole, so that no method can read the
            ground truth. Wrap per-image methods with `batched`.
        metrics: names in `holefill.evaluation.metrics.METRICS`, in the order of the reports; by
            default all of them. LPIPS downloads its weights on first use (see
            `holefill.nn.pretrained.fetch_lpips_weights`): leave it out to work offline.
        batch_size: samples per call of each method and of each metric.
        progress: whether to show a progress bar.

    Returns:
        The mean of each of ``metrics`` on the composited outputs.
    """
    metrics = list(METRICS) if metrics is None else list(metrics)
    unknown_metrics = [metric for metric in metrics if metric not in METRICS]
    if unknown_metrics or not metrics:
        raise ValueError(
            f"metrics must be a non-empty list of names from {list(METRICS)}, got {metrics}."
        )
    if not samples:
        raise ValueError("evaluate() needs at least one sample.")
    if not methods:
        raise ValueError("evaluate() needs at least one method.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    sample_buckets = np.array([sample.bucket for sample in samples])
    unknown_buckets = sorted(set(sample_buckets.tolist()) - set(range(len(BUCKET_LABELS))))
    if unknown_buckets:
        raise ValueError(
            f"Sample buckets must lie in 0..{len(BUCKET_LABELS) - 1} ({', '.join(BUCKET_LABELS)}),"
            f" got {unknown_buckets}."
        )

    # per_sample[metric][method] holds one score per sample, in the order of `samples`.
    per_sample = {metric: {method: [] for method in methods} for metric in metrics}
    seconds = dict.fromkeys(methods, 0.0)
    with tqdm(total=len(samples), desc="Evaluating", unit="image", disable=not progress) as bar:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            ground_truths = np.stack([sample.image for sample in batch]).astype(np.float32)
            masks = np.stack([sample.mask for sample in batch]).astype(np.float32)
            masked_images = ground_truths * masks
            for method, predict in methods.items():
                started = time.perf_counter()
                outputs = np.asarray(predict(masked_images, masks))
                seconds[method] += time.perf_counter() - started
                if outputs.shape != ground_truths.shape:
                    raise ValueError(
                        f"Method {method!r} returned shape {outputs.shape} for images of shape "
                        f"{ground_truths.shape}."
                    )
                # Clipped as when saving the result as an image: the metrics assume [0, 1].
                composited = composite(np.clip(outputs, 0.0, 1.0), ground_truths, masks)
                for metric in metrics:
                    per_sample[metric][method].extend(
                        METRICS[metric].function(composited, ground_truths, masks)
                    )
            bar.update(len(batch))

    present_buckets = sorted(set(sample_buckets.tolist()))
    row_selections = {BUCKET_LABELS[index]: sample_buckets == index for index in present_buckets}
    row_selections[OVERALL] = np.ones(len(samples), dtype=bool)
    return EvaluationResult(
        methods=list(methods),
        metrics=metrics,
        buckets=[BUCKET_LABELS[index] for index in present_buckets],
        counts={row: int(selection.sum()) for row, selection in row_selections.items()},
        scores={
            metric: {
                method: {
                    row: _mean_where_defined(np.asarray(values)[selection])
                    for row, selection in row_selections.items()
                }
                for method, values in by_method.items()
            }
            for metric, by_method in per_sample.items()
        },
        seconds_per_image={method: total / len(samples) for method, total in seconds.items()},
    )


def _mean_where_defined(scores: np.ndarray) -> float:
    # A nan score marks a pair where the metric is undefined (the texture ratio where the truth
    # has no texture in the hole): the mean is over the other pairs, lest one such photo make
    # its whole row nan.
    defined = scores[~np.isnan(scores)]
    return float(defined.mean()) if defined.size else np.nan


def beats_every_bucket(
    result: EvaluationResult,
    method: str,
    metrics: Sequence[str] = ("psnr", "ssim", "lpips", "l1"),
    first_bucket: int = 1,
) -> bool:
    """Whether ``method`` scores strictly better than every other method on every one of
    ``metrics``, in every evaluated bucket from index ``first_bucket`` up.

    The defaults are the default model's quality bar: PSNR, SSIM, LPIPS and L1, LPIPS
    included so that a blurry fill cannot pass on PSNR alone, and every bucket but
    (1%,10%], where small holes leave the methods too close to rank. Which direction is
    better comes from `holefill.evaluation.metrics.METRICS`.
    """
    if method not in result.methods:
        raise ValueError(f"Unknown method {method!r}; the result has {result.methods}.")
    rivals = [other for other in result.methods if other != method]
    if not rivals:
        raise ValueError(f"The result has no method to compare {method!r} against.")
    unknown_metrics = [metric for metric in metrics if metric not in result.metrics]
    if unknown_metrics:
        raise ValueError(f"Unknown metrics {unknown_metrics}; the result has {result.metrics}.")
    buckets = [bucket for bucket in BUCKET_LABELS[first_bucket:] if bucket in result.buckets]
    if not buckets:
        raise ValueError(
            f"The result has no bucket from {BUCKET_LABELS[first_bucket]} up; it has "
            f"{result.buckets}."
        )

    return all(
        METRICS[metric].sort_key(result.scores[metric][method][bucket])
        < METRICS[metric].sort_key(result.scores[metric][rival][bucket])
        for metric in metrics
        for bucket in buckets
        for rival in rivals
    )


@dataclasses.dataclass
class UncertaintyResult:
    """How well the Monte-Carlo spread ranks the errors, per hole-ratio bucket and overall.

    ``spearman[row]`` is Spearman's rank correlation, over hole pixels, between the
    standard deviation of the draws and the absolute error of their mean (both averaged
    over the colour channels); ``pixels[row]`` how many pixels it was computed on and
    ``mean_std`` / ``mean_error`` their averages. A high correlation means that where the
    heat map is hot the fill is indeed likely to be wrong.
    """

    draws: int
    buckets: list[str]
    counts: dict[str, int]
    pixels: dict[str, int]
    spearman: dict[str, float]
    mean_std: dict[str, float]
    mean_error: dict[str, float]

    @property
    def rows(self) -> list[str]:
        return [*self.buckets, OVERALL]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_markdown(self) -> str:
        lines = [
            f"## Uncertainty: Spearman correlation of the std of {self.draws} Monte-Carlo "
            "draws with the absolute error, inside the holes",
            "",
            "| hole ratio | samples | pixels | Spearman | mean std | mean abs error |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {row} | {self.counts[row]} | {self.pixels[row]} | {self.spearman[row]:.3f} | "
            f"{self.mean_std[row]:.4f} | {self.mean_error[row]:.4f} |"
            for row in self.rows
        ]
        return "\n".join([*lines, ""])

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / UNCERTAINTY_FILENAME).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def evaluate_uncertainty(
    samples: Sequence[Sample],
    draw: InpaintingMethod,
    *,
    draws: int = 16,
    batch_size: int = 8,
    pixels_per_image: int = 4096,
    seed: int = 0,
    progress: bool = True,
) -> UncertaintyResult:
    """Correlates the Monte-Carlo dropout spread with the error, over hole pixels.

    Args:
        samples: as for `evaluate`.
        draw: a batched method, as for `evaluate`, whose every call is one stochastic draw
            (a model with its dropout active).
        draws: calls of ``draw`` per batch: the N of the uncertainty map.
        pixels_per_image: hole pixels drawn at random from each image (all of them when it
            has fewer), so that every image weighs alike and memory stays bounded.
        seed: seeds which pixels are drawn.
    """
    from scipy.stats import spearmanr

    if draws < 2:
        raise ValueError(f"draws must be at least 2 to have a spread, got {draws}.")
    if not samples:
        raise ValueError("evaluate_uncertainty() needs at least one sample.")
    if batch_size < 1 or pixels_per_image < 1:
        raise ValueError(
            f"batch_size and pixels_per_image must be at least 1, got {batch_size} and "
            f"{pixels_per_image}."
        )
    rng = np.random.default_rng(seed)
    stds, errors, owners = [], [], []
    with tqdm(total=len(samples), desc="Uncertainty", unit="image", disable=not progress) as bar:
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            truths = np.stack([sample.image for sample in batch]).astype(np.float32)
            masks = np.stack([sample.mask for sample in batch]).astype(np.float32)
            total = np.zeros_like(truths, dtype=np.float64)
            total_square = np.zeros_like(total)
            for _ in range(draws):
                # Clipped as the served draws are, before their moments.
                output = np.clip(np.asarray(draw(truths * masks, masks), np.float64), 0.0, 1.0)
                total += output
                total_square += np.square(output)
            mean = total / draws
            std = np.sqrt(np.maximum(total_square / draws - np.square(mean), 0.0)).mean(axis=3)
            error = np.abs(mean - truths).mean(axis=3)
            for index, sample_index in enumerate(range(start, start + len(batch))):
                holes = np.flatnonzero(masks[index, ..., 0] < 0.5)
                if holes.size > pixels_per_image:
                    holes = rng.choice(holes, pixels_per_image, replace=False)
                stds.append(std[index].ravel()[holes])
                errors.append(error[index].ravel()[holes])
                owners.append(np.full(holes.size, sample_index))
            bar.update(len(batch))

    stds, errors, owners = map(np.concatenate, (stds, errors, owners))
    pixel_buckets = np.array([sample.bucket for sample in samples])[owners]
    present_buckets = sorted(set(sample.bucket for sample in samples))
    selections = {BUCKET_LABELS[index]: pixel_buckets == index for index in present_buckets}
    selections[OVERALL] = np.ones(len(stds), dtype=bool)
    counts = {
        BUCKET_LABELS[index]: sum(sample.bucket == index for sample in samples)
        for index in present_buckets
    }
    counts[OVERALL] = len(samples)
    return UncertaintyResult(
        draws=draws,
        buckets=[BUCKET_LABELS[index] for index in present_buckets],
        counts=counts,
        pixels={row: int(selection.sum()) for row, selection in selections.items()},
        spearman={
            row: float(spearmanr(stds[selection], errors[selection]).statistic)
            for row, selection in selections.items()
        },
        mean_std={row: float(stds[selection].mean()) for row, selection in selections.items()},
        mean_error={row: float(errors[selection].mean()) for row, selection in selections.items()},
    )
