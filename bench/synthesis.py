"""The served fills side by side: the network alone, the guided synthesis, PatchMatch and the
classical fills, per hole-ratio bucket, on the same image-mask pairs.

    .venv/bin/python bench/synthesis.py --images ../shared/data/train --every 211 \
        --family objects [--configs '[{"fine_guide_weight": 0.5}]']
    .venv/bin/python bench/synthesis.py --images ../shared/data/val/images \
        --masks ../shared/data/val/masks [--size 512]

With `--masks`, the NVIDIA mask files are paired with the photos as `holefill evaluate`
pairs them; otherwise masks of `--family` ("objects": blobs, boxes, brush paths; "strokes")
are generated. Buckets from (10%,20%] up. Every fill runs as served (`Inpainter`, mask
dilation 0 so that every method fills the same pixels); `--configs` adds synthesis
variants, to choose `SynthesisConfig`'s defaults on training photos, never on the
validation photos; `--synthesis-only` scores the synthesis alone, to rescore a change to it
on the samples of an earlier run. Prints a Markdown table per metric (PSNR, SSIM, LPIPS-Alex,
L1, texture ratio) and the seconds per image of each method, measured in this one run.
"""

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from holefill.evaluation.baselines import CLASSICAL_METHODS
from holefill.evaluation.metrics import METRICS
from holefill.evaluation.validation_sets import generated_validation_set, load_validation_set
from holefill.inference.inpainter import Inpainter
from holefill.inference.synthesis import DEFAULT_SYNTHESIS
from holefill.masks.buckets import BUCKET_LABELS


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of photos")
    parser.add_argument("--masks", type=Path, help="folder of NVIDIA mask files")
    parser.add_argument("--family", default="objects", help="generated masks: objects, strokes")
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo")
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--size", type=int, default=256, help="centre-crop size in pixels")
    parser.add_argument("--configs", default="[]", help="JSON list of SynthesisConfig changes")
    parser.add_argument(
        "--classical", action="store_true", help="Telea, Navier-Stokes and biharmonic too"
    )
    parser.add_argument(
        "--synthesis-only",
        action="store_true",
        help="only the synthesis and its --configs: to score a changed synthesis on the "
        "samples of an earlier run, whose other fills it leaves unchanged",
    )
    parser.add_argument("--output", type=Path, help="also write the tables here (Markdown)")
    arguments = parser.parse_args()
    if arguments.every < 1:
        parser.error(f"--every must be at least 1, got {arguments.every}.")
    samples = _samples(arguments)
    inpainter = Inpainter.load(arguments.model, threads=2, mask_dilation=0)
    methods = {
        "network": lambda image, holes: inpainter.inpaint(image, holes, fill="network").image,
        "holefill (synthesis)": lambda image, holes: inpainter.inpaint(image, holes).image,
    }
    if arguments.synthesis_only:
        del methods["network"]
    for changes in json.loads(arguments.configs):
        variant = Inpainter(
            inpainter.model,
            mask_dilation=0,
            synthesis=dataclasses.replace(DEFAULT_SYNTHESIS, **changes),
        )
        methods[json.dumps(changes)] = lambda image, holes, v=variant: v.inpaint(image, holes).image
    baselines = CLASSICAL_METHODS if arguments.classical else ["patchmatch"]
    for name in [] if arguments.synthesis_only else baselines:
        methods[name] = lambda image, holes, m=CLASSICAL_METHODS[name]: m(
            image.astype(np.float32) / 255, (~holes[..., None]).astype(np.float32)
        )
    truths = np.stack([sample.image for sample in samples])
    masks = np.stack([sample.mask for sample in samples])
    buckets = np.array([sample.bucket for sample in samples])
    scores, seconds = {}, {}
    for name, method in methods.items():
        outputs, start = [], time.perf_counter()
        for sample in samples:
            image = np.round(sample.image * 255).astype(np.uint8)
            holes = sample.mask[..., 0] < 0.5
            output = np.asarray(method(image, holes), np.float32)
            outputs.append(output / 255 if output.max() > 1.0 else output)
        seconds[name] = (time.perf_counter() - start) / len(samples)
        outputs = np.stack(outputs)
        # In chunks: LPIPS over 400 photos of 512 px at once needs more than 24 GB.
        scores[name] = {
            metric: np.concatenate(
                [
                    np.asarray(
                        METRICS[metric].function(
                            outputs[at : at + 16], truths[at : at + 16], masks[at : at + 16]
                        )
                    )
                    for at in range(0, len(outputs), 16)
                ]
            )
            for metric in METRICS
        }
        print(f"{name}: {seconds[name]:.2f} s per image", flush=True)
    report = _tables(scores, seconds, buckets, arguments)
    print(report)
    if arguments.output:
        arguments.output.write_text(report)


def _samples(arguments):
    if arguments.masks:
        samples = load_validation_set(arguments.images, arguments.masks, size=arguments.size)
    else:
        samples = generated_validation_set(
            arguments.images, size=arguments.size, family=arguments.family, seed=1
        )
    photos = set(sorted({sample.photo for sample in samples})[:: arguments.every])
    return [sample for sample in samples if sample.bucket >= 1 and sample.photo in photos]


def _tables(scores, seconds, buckets, arguments):
    present = sorted(set(buckets.tolist()))
    source = f"{arguments.masks or arguments.family} masks"
    lines = [f"{len(buckets)} samples at {arguments.size} px, {source}, {arguments.images}\n"]
    for metric, description in METRICS.items():
        lines.append(f"### {description.label}\n")
        lines.append("| method | " + " | ".join(BUCKET_LABELS[b] for b in present) + " | all |")
        lines.append("|---" * (len(present) + 2) + "|")
        for name, by_metric in scores.items():
            values = by_metric[metric]
            # nanmean: the texture ratio is nan where the truth has no texture in the hole.
            cells = [np.nanmean(values[buckets == b]) for b in present] + [np.nanmean(values)]
            decimals = description.decimals if metric != "ssim" else 3
            lines.append(f"| {name} | " + " | ".join(f"{v:.{decimals}f}" for v in cells) + " |")
        lines.append("")
    lines.append(
        "Seconds per image (this run, 2 threads): "
        + ", ".join(f"{name} {value:.2f}" for name, value in seconds.items())
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
