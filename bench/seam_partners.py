"""Which diffusion fill to blend the network's with at the holes' edges, side by side.

    .venv/bin/python bench/seam_partners.py --images ../shared/data/train --every 21
                                            [--model models/default] [--size 256]

Pairs every `--every`-th photo of `--images` with one generated irregular mask per
hole-ratio bucket from (10%,20%] up (the validation set is left alone, so that what this
chooses is not fitted to the tables it is judged by), runs the network once, and scores
per bucket, SSIM and PSNR of the composite: the network alone, OpenCV's Navier-Stokes and
scikit-image's biharmonic fills, and the network blended with each of the two by
`holefill.inference.seams.blend_seams` (`DEFAULT_SEAMS`'s edge and ramp; each interior share asked
for). Also prints the seconds per image that each blend adds to serving.

On training photos the network errs less than on new ones, which favours small diffusion
shares; the comparison between the two partners holds either way.
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from holefill.evaluation.baselines import CLASSICAL_METHODS
from holefill.evaluation.methods import keras_method
from holefill.evaluation.metrics import composite, psnr, ssim
from holefill.evaluation.validation_sets import generated_validation_set
from holefill.inference.seams import DEFAULT_SEAMS, blend_seams
from holefill.masks.buckets import HOLE_RATIO_BUCKETS

# Each partner of the blend and the classical method that is the same diffusion alone.
PARTNERS = {"navier-stokes": "ns", "biharmonic": "biharmonic"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, required=True, help="folder of photos")
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo")
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--size", type=int, default=256, help="centre-crop size in pixels")
    parser.add_argument(
        "--shares", default="0.2,0.4", help="comma-separated interior diffusion shares"
    )
    arguments = parser.parse_args()
    if arguments.every < 1:
        parser.error(f"--every must be at least 1, got {arguments.every}.")
    try:
        shares = [float(share) for share in arguments.shares.split(",")]
        blends = {
            (partner, share): dataclasses.replace(
                DEFAULT_SEAMS, partner=partner, interior_diffusion_share=share
            )
            for partner in PARTNERS
            for share in shares
        }
    except ValueError as error:
        parser.error(f"--shares takes numbers in [0, 1] separated by commas: {error}")

    try:
        every_sample = generated_validation_set(arguments.images, size=arguments.size)
    except ValueError as error:
        parser.error(str(error))
    buckets_per_photo = len(HOLE_RATIO_BUCKETS)
    samples = [
        sample
        for index, sample in enumerate(every_sample)
        if (index // buckets_per_photo) % arguments.every == 0 and sample.bucket >= 1
    ]
    images = np.stack([sample.image for sample in samples]).astype(np.float32)
    masks = np.stack([sample.mask for sample in samples]).astype(np.float32)
    holes = masks[..., 0] < 0.5

    network = keras_method(arguments.model, 8)
    fills = {
        "network": np.concatenate(
            [network(images[i : i + 16], masks[i : i + 16]) for i in range(0, len(samples), 16)]
        )
    }
    for method in PARTNERS.values():
        fills[method] = np.stack(
            [
                CLASSICAL_METHODS[method](image, mask)
                for image, mask in zip(images, masks, strict=True)
            ]
        )
    seconds = {}
    for (partner, share), blend in blends.items():
        name = f"network + {share:g} {partner}"
        start = time.perf_counter()
        fills[name] = np.stack(
            [
                blend_seams(image, hole, fill, blend)
                for image, hole, fill in zip(images, holes, fills["network"], strict=True)
            ]
        )
        seconds[name] = (time.perf_counter() - start) / len(samples)

    bucket_indices = sorted({sample.bucket for sample in samples})
    print(f"{len(samples)} samples at {arguments.size} px from {arguments.images}")
    print("| fill | " + " | ".join(HOLE_RATIO_BUCKETS[b].label for b in bucket_indices) + " |")
    print("|---|" + "---:|" * len(bucket_indices))
    for name, fill in fills.items():
        cells = []
        for bucket in bucket_indices:
            scores = [
                (ssim(pasted, truth), psnr(pasted, truth))
                for sample, output, truth, mask in zip(samples, fill, images, masks, strict=True)
                if sample.bucket == bucket
                for pasted in [composite(output, truth, mask)]
            ]
            mean_ssim, mean_psnr = np.mean(scores, axis=0)
            cells.append(f"{mean_ssim:.4f} / {mean_psnr:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("SSIM / PSNR (dB) of the composite, per bucket.")
    for name, value in seconds.items():
        print(f"{name}: {value:.3f} s per {arguments.size} px image")


if __name__ == "__main__":
    main()
