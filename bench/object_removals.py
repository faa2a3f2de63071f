"""The README's side-by-side grid of object removals on scikit-image's photos (public
domain and CC0, so the grid may ship): the photo with the painted mask, the network's fill
alone, PatchMatch (`pypatchmatch`, patch radius 3) and Holefill's served fill.

    .venv/bin/python bench/object_removals.py [--model models/default]
                                              [--output docs/images/object-removals.jpg]

Prints each fill's seconds per photo, measured in this one run.
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skimage_data

from holefill import Inpainter
from holefill.evaluation.baselines import CLASSICAL_METHODS

ROW_HEIGHT = 240
MASK_TINT = np.array([255, 40, 40], np.float32)


def painted_masks():
    """What a user paints over an object: the cat's eye, the spoon, a launch tower."""
    masks = {}
    eye = np.zeros((300, 451), np.uint8)
    cv2.ellipse(eye, (172, 115), (44, 34), 0, 0, 360, 255, -1)
    masks["chelsea"] = eye
    spoon = np.zeros((400, 600), np.uint8)
    cv2.line(spoon, (410, 72), (378, 230), 255, 30)
    cv2.ellipse(spoon, (366, 283), (46, 48), 0, 0, 360, 255, -1)
    masks["coffee"] = spoon
    tower = np.zeros((427, 640), np.uint8)
    cv2.rectangle(tower, (430, 118), (474, 420), 255, -1)
    masks["rocket"] = tower
    return masks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--output", type=Path, default=Path("docs/images/object-removals.jpg"))
    arguments = parser.parse_args()
    inpainter = Inpainter.load(arguments.model, threads=2)
    rows, seconds = [], {"network": 0.0, "patchmatch": 0.0, "holefill": 0.0}
    for name, mask in painted_masks().items():
        photo = getattr(skimage_data, name)()
        started = time.perf_counter()
        network = np.asarray(inpainter.inpaint(photo, mask, fill="network").image)
        seconds["network"] += time.perf_counter() - started
        # PatchMatch fills the holes the served fills do: the painted mask, dilated.
        dilated = cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0
        started = time.perf_counter()
        truth = photo.astype(np.float32) / 255
        known = (~dilated[..., None]).astype(np.float32)
        patchmatch = CLASSICAL_METHODS["patchmatch"](truth, known)
        seconds["patchmatch"] += time.perf_counter() - started
        started = time.perf_counter()
        holefill = np.asarray(inpainter.inpaint(photo, mask).image)
        seconds["holefill"] += time.perf_counter() - started
        shown = np.where((mask > 0)[..., None], 0.45 * photo + 0.55 * MASK_TINT, photo).astype(
            np.uint8
        )
        cells = [shown, network, np.round(patchmatch * 255).astype(np.uint8), holefill]
        width = round(photo.shape[1] * ROW_HEIGHT / photo.shape[0])
        rows.append(
            np.concatenate(
                [
                    cv2.resize(cell, (width, ROW_HEIGHT), interpolation=cv2.INTER_AREA)
                    for cell in cells
                ],
                axis=1,
            )
        )
    widest = max(row.shape[1] for row in rows)
    rows = [
        cv2.copyMakeBorder(
            row, 0, 4, 0, widest - row.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255)
        )
        for row in rows
    ]
    Image.fromarray(np.concatenate(rows, axis=0)).save(arguments.output, quality=88)
    print(f"Wrote {arguments.output}: columns photo and mask, network alone, PatchMatch, Holefill")
    for method, total in seconds.items():
        print(f"{method}: {total / len(rows):.2f} s per photo")


if __name__ == "__main__":
    main()
