"""The web app's Fill in Chromium against the same job through the API alone, on the local
twin, side by side in one run.

Each round opens a photo in a fresh page, paints a stroke and times Fill until the new
version shows; then it sends the very photo and mask that the app uploaded through the API
client (upload, job, poll, download) and times that. Prints the median of each and their
ratio: what the web app adds (reading the photo, drawing and encoding the mask, its
polling, showing the result) to what the service takes.

    .venv/bin/python bench/web_fill.py [--model models/default] [--size 768 512] [--rounds 5]

Needs the built web app (`npm --prefix frontend run build`) and Debian's Chromium.
"""

import argparse
import io
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from playwright.sync_api import sync_playwright
from skimage import data

from holefill.twin.chromium import launch
from holefill.twin.client import HolefillClient
from holefill.twin.functions import REPO_ROOT
from holefill.twin.ports import free_port
from holefill.twin.twin import LocalTwin, TwinConfig

DIST = REPO_ROOT / "frontend" / "dist"
FILL_TIMEOUT_MS = 120_000
# The stroke, in fractions of the photo's displayed box: across the cup.
STROKE = [(0.35, 0.3), (0.5, 0.45), (0.65, 0.6)]


def photo_png(width, height):
    """scikit-image's coffee cup, scaled to `width` x `height`, as a PNG."""
    image = Image.fromarray(data.coffee()).resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def browser_fill(browser, url, photo):
    """Seconds from Fill to the new version shown, in a fresh page."""
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    page = context.new_page()
    page.goto(url)
    page.get_by_test_id("photo-input").set_input_files(
        {"name": "coffee.png", "mimeType": "image/png", "buffer": photo}
    )
    mask = page.get_by_test_id("mask")
    mask.wait_for()
    box = mask.bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in STROKE]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()
    started = time.perf_counter()
    page.get_by_role("button", name="Fill", exact=True).click()
    versions = page.get_by_role("navigation", name="Versions")
    versions.get_by_role("button", name=re.compile("^Fill 1: ")).wait_for(timeout=FILL_TIMEOUT_MS)
    seconds = time.perf_counter() - started
    context.close()
    return seconds


def uploaded_mask(twin):
    """The mask of the newest upload, as the web app sent it."""
    s3 = twin.seaweed.client()
    bucket = twin.config.settings.uploads_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="uploads/")["Contents"]
    newest = max((item for item in listed if item["Key"].endswith("/mask")), key=_modified)
    return s3.get_object(Bucket=bucket, Key=newest["Key"])["Body"].read()


def _modified(item):
    return item["LastModified"]


def api_fill(client, photo, mask):
    """Seconds for the same job through the API: upload, job, poll, download."""
    started = time.perf_counter()
    done = client.inpaint(photo, mask)
    if done.status_code != 200:
        raise RuntimeError(f"the job failed: {done.text}")
    requests.get(done.json()["files"]["result"], timeout=60).raise_for_status()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "default")
    parser.add_argument("--size", type=int, nargs=2, default=(768, 512), metavar=("W", "H"))
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {arguments.rounds}")
    if not (DIST / "index.html").is_file():
        parser.error(f"the web app is not built ({DIST}): npm --prefix frontend run build")
    photo = photo_png(*arguments.size)
    timings = {"web app": [], "API alone": []}
    with tempfile.TemporaryDirectory() as scratch:
        config = TwinConfig(
            model_dir=arguments.model,
            data_dir=Path(scratch) / "twin",
            port=free_port(),
            s3_port=free_port(),
            static_dir=DIST,
        )
        with LocalTwin(config) as twin, sync_playwright() as playwright:
            browser = launch(playwright)
            client = HolefillClient(twin.api_url, origin=config.origin)
            for _ in range(arguments.rounds):
                timings["web app"].append(browser_fill(browser, twin.url, photo))
                timings["API alone"].append(api_fill(client, photo, uploaded_mask(twin)))
            browser.close()
    medians = {name: statistics.median(values) for name, values in timings.items()}
    width, height = arguments.size
    print(f"{width}x{height} photo, {arguments.rounds} rounds, seconds from Fill to result:")
    for name, values in timings.items():
        shown = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {name}: median {medians[name]:.2f} ({shown})")
    print(f"  web app / API alone: {medians['web app'] / medians['API alone']:.2f}")
    print(f"  the web app adds {np.subtract(*medians.values()):.2f} s")


if __name__ == "__main__":
    main()
