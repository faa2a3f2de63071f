"""The README's and docs/TRAINING.md's grids of the seven object removals a person tried in
the web app (masks in ../shared/data/cases, described in its README.md) on scikit-image's
photos (public domain and CC0, so the grids may ship): PatchMatch (`pypatchmatch`, patch
radius 3) against Holefill's served fill.

    .venv/bin/python bench/object_removals.py [--model models/default]
                                              [--output docs/images/object-removals.jpg]

Writes OUTPUT, one row per case: the photo with its mask tinted red, PatchMatch's fill and
Holefill's, each scaled to fit; and OUTPUT-crops, per case the hole with a margin from
PatchMatch (left) and Holefill (right), enlarged 2x with nearest neighbours so that single
pixels show (the 12 MP photo's at 100%, where its blocks show). Prints each fill's seconds
per photo, measured in this one run.
"""

import argparse
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skimage_data

from holefill import Inpainter
from holefill.evaluation.baselines import CLASSICAL_METHODS
from holefill.imaging.masks import read_mask

CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cases"
MASK_TINT = np.array([255, 40, 40], np.float32)
# Three cells of a 3:2 photo fit GitHub's README column (about 1000 px) at 1:1. Every size
# is even, so that the 2x crops' pixels line up with JPEG's 2x2 chroma blocks.
CELL_WIDTH, CELL_HEIGHT = 330, 220
GAP, TILE_GAP, STRIP = 4, 16, 22
PAGE_WIDTH = 3 * CELL_WIDTH + 2 * GAP
# Enough known pixels around the hole to judge the seam against.
CROP_MARGIN = 32
# The 12 MP hole is 2070x733 px, more than a screen at 100%: a square at its lower end,
# the spoon's bowl against the saucer, holds edges of the hole and its inside.
FULL_SIZE_CROP = 480
FONT, FONT_SCALE = cv2.FONT_HERSHEY_SIMPLEX, 0.5
WHITE, LABEL_BACKGROUND, TEXT_COLOUR = (255, 255, 255), (228, 228, 228), (30, 30, 30)


def coffee_12_mp():
    """coffee() as the case was painted on: 4000x3000 with Lanczos, a JPEG of quality 92."""
    scaled = Image.fromarray(skimage_data.coffee()).resize((4000, 3000), Image.LANCZOS)
    encoded = io.BytesIO()
    scaled.save(encoded, format="JPEG", quality=92)
    return np.asarray(Image.open(encoded).convert("RGB"))


@dataclass(frozen=True)
class Case:
    mask: str
    photo: str
    load: Callable[[], np.ndarray]
    zoom: int = 2


CASES = (
    Case("coffee-wood", "coffee()", skimage_data.coffee),
    Case("coffee-spoon", "coffee()", skimage_data.coffee),
    Case("coffee-12mp-spoon", "coffee() at 4000x3000, JPEG 92", coffee_12_mp, zoom=1),
    Case("chelsea-eye", "chelsea()", skimage_data.chelsea),
    Case("astronaut-shuttle", "astronaut()", skimage_data.astronaut),
    Case(
        "motorcycle_left-bottle",
        "stereo_motorcycle()[0]",
        lambda: skimage_data.stereo_motorcycle()[0],
    ),
    Case("rocket-tower", "rocket()", skimage_data.rocket),
)


def fills(inpainter, photo, mask_path, hole):
    """PatchMatch's and Holefill's fills of `photo`, and the seconds each took."""
    started = time.perf_counter()
    known = (~hole[..., None]).astype(np.float32)
    patchmatch = CLASSICAL_METHODS["patchmatch"](photo.astype(np.float32) / 255, known)
    patchmatch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    holefill = inpainter.inpaint(photo, mask_path).image
    holefill_seconds = time.perf_counter() - started
    patchmatch = np.round(patchmatch * 255).astype(np.uint8)
    return patchmatch, holefill, (patchmatch_seconds, holefill_seconds)


def crop_box(hole, zoom):
    """Rows and columns (top, bottom, left, right) of the crop shown around `hole`: its
    bounding box with a margin, or at 100% (zoom 1) a square at its lower end."""
    rows, columns = np.nonzero(hole)
    height, width = hole.shape
    if zoom == 1:
        bottom = min(rows.max() + FULL_SIZE_CROP // 4, height)
        top = max(bottom - FULL_SIZE_CROP, 0)
        centre = round(columns[rows >= top].mean())
        left = min(max(centre - FULL_SIZE_CROP // 2, 0), width - FULL_SIZE_CROP)
        return top, bottom, left, left + FULL_SIZE_CROP
    return (
        max(rows.min() - CROP_MARGIN, 0),
        min(rows.max() + 1 + CROP_MARGIN, height),
        max(columns.min() - CROP_MARGIN, 0),
        min(columns.max() + 1 + CROP_MARGIN, width),
    )


def enlarged(image, box, zoom):
    top, bottom, left, right = box
    return image[top:bottom, left:right].repeat(zoom, axis=0).repeat(zoom, axis=1)


def fitted(image):
    """`image` scaled to fit one overview cell, centred on white."""
    scale = min(CELL_WIDTH / image.shape[1], CELL_HEIGHT / image.shape[0])
    width, height = round(image.shape[1] * scale), round(image.shape[0] * scale)
    cell = np.full((CELL_HEIGHT, CELL_WIDTH, 3), WHITE, np.uint8)
    top, left = (CELL_HEIGHT - height) // 2, (CELL_WIDTH - width) // 2
    cell[top : top + height, left : left + width] = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA
    )
    return cell


def text_width(text):
    """The width `text` takes in a strip, rounded up to an even number of pixels."""
    return (cv2.getTextSize(text, FONT, FONT_SCALE, 1)[0][0] + 5) // 2 * 2


def strip(width, labels, background=WHITE):
    """A strip of text, each label `(x, text)`: column labels on grey, titles on white."""
    canvas = np.full((STRIP, width, 3), background, np.uint8)
    for x, text in labels:
        cv2.putText(canvas, text, (x + 2, STRIP - 7), FONT, FONT_SCALE, TEXT_COLOUR, 1, cv2.LINE_AA)
    return canvas


def stacked(parts, gap=GAP):
    """`parts` one under another, left-aligned on white."""
    width = max(part.shape[1] for part in parts)
    padded = [
        cv2.copyMakeBorder(part, 0, gap, 0, width - part.shape[1], cv2.BORDER_CONSTANT, value=WHITE)
        for part in parts
    ]
    return np.concatenate(padded, axis=0)[:-gap]


def side_by_side(parts, gap=GAP):
    """`parts` in a row, top-aligned on white."""
    height = max(part.shape[0] for part in parts)
    padded = [
        cv2.copyMakeBorder(
            part, 0, height - part.shape[0], 0, gap, cv2.BORDER_CONSTANT, value=WHITE
        )
        for part in parts
    ]
    return np.concatenate(padded, axis=1)[:, :-gap]


def crops_tile(case, patchmatch, holefill, hole):
    box = crop_box(hole, case.zoom)
    pair = [enlarged(patchmatch, box, case.zoom), enlarged(holefill, box, case.zoom)]
    title = f"{case.mask}.png, {'100%' if case.zoom == 1 else f'{case.zoom}x'}"
    width = max(2 * pair[0].shape[1] + GAP, text_width(title))
    labels = [(0, "PatchMatch"), (pair[0].shape[1] + GAP, "Holefill")]
    return stacked(
        [strip(width, [(0, title)]), strip(width, labels, LABEL_BACKGROUND), side_by_side(pair)]
    )


def shelves(tiles):
    """`tiles` in order, as many to a row as fit the page's width."""
    rows = [[tiles[0]]]
    for tile in tiles[1:]:
        row_width = sum(part.shape[1] + TILE_GAP for part in rows[-1])
        if row_width + tile.shape[1] <= PAGE_WIDTH:
            rows[-1].append(tile)
        else:
            rows.append([tile])
    return stacked([side_by_side(row, TILE_GAP) for row in rows], TILE_GAP)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--output", type=Path, default=Path("docs/images/object-removals.jpg"))
    arguments = parser.parse_args()
    if not CASES_DIR.is_dir():
        raise SystemExit(f"Skipped: {CASES_DIR} is missing; it holds the cases' masks.")
    inpainter = Inpainter.load(arguments.model, threads=2)
    columns = [(0, "Photo, mask in red"), (CELL_WIDTH + GAP, "PatchMatch")]
    columns.append((2 * (CELL_WIDTH + GAP), "Holefill (served fill)"))
    overview, tiles, seconds = [strip(PAGE_WIDTH, columns, LABEL_BACKGROUND)], [], []
    for index, case in enumerate(CASES):
        photo = case.load()
        mask_path = CASES_DIR / f"{case.mask}.png"
        painted = read_mask(mask_path, photo.shape[:2])
        # PatchMatch fills the hole the served fill does: the painted mask, dilated as
        # serving dilates it.
        hole = read_mask(mask_path, photo.shape[:2], dilation=inpainter.mask_dilation)
        if index == 0:
            # Each method's first fill pays one-off costs (pypatchmatch loads its library,
            # the model builds its interpreters) that no photo's seconds should carry.
            fills(inpainter, photo, mask_path, hole)
        patchmatch, holefill, case_seconds = fills(inpainter, photo, mask_path, hole)
        seconds.append(case_seconds)
        tinted = np.where(painted[..., None], 0.45 * photo + 0.55 * MASK_TINT, photo)
        cells = [fitted(tinted.astype(np.uint8)), fitted(patchmatch), fitted(holefill)]
        overview += [
            strip(PAGE_WIDTH, [(0, f"{case.mask}.png on {case.photo}")]),
            side_by_side(cells),
        ]
        tiles.append(crops_tile(case, patchmatch, holefill, hole))
    crops_output = arguments.output.with_stem(f"{arguments.output.stem}-crops")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(stacked(overview)).save(arguments.output, quality=88)
    Image.fromarray(shelves(tiles)).save(crops_output, quality=88)
    print(
        f"Wrote {arguments.output} (columns: the photo with the mask in red, PatchMatch, "
        f"Holefill) and {crops_output} (the hole with a margin, PatchMatch left, Holefill "
        "right, 2x; the 12 MP photo's at 100%)"
    )
    print(f"{'seconds per photo':<24} {'PatchMatch':>10} {'Holefill':>10}")
    for case, (patchmatch_seconds, holefill_seconds) in zip(CASES, seconds, strict=True):
        print(f"{case.mask:<24} {patchmatch_seconds:>10.2f} {holefill_seconds:>10.2f}")


if __name__ == "__main__":
    main()
