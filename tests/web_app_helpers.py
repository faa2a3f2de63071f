"""What the web app's browser tests share (tests/test_web_app_*.py): photos, the user's
strokes with the mouse or a finger, and the app's state read back from the page: painted
pixels, downloads, versions and status. The fixtures that open the app in Chromium
(`page`, `phone`, `screen`, with `browser`, `web_twin` and `artifacts`) are in conftest.py."""

import io
import itertools
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

# A job on the tiny model takes well under a second: this is room for a slow machine.
FILL_TIMEOUT_MS = 30_000


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_array(height=240, width=320):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows, columns * 0.7, (rows + columns) % 256], axis=2).astype(np.uint8)


def on_phone(page):
    return page.viewport_size["width"] < 500


def shot(page, artifacts, name):
    """A screenshot named for the screen it was taken on."""
    page.screenshot(path=artifacts / f"{name}-{'phone' if on_phone(page) else 'desktop'}.png")


def mark(page, stroke):
    """A stroke drawn as the screen's user would: a finger on a phone, the mouse elsewhere."""
    if on_phone(page):
        swipe(page, stroke)
    else:
        paint(page, [stroke])


def open_photo(page, name, data, mime="image/png"):
    page.get_by_test_id("photo-input").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )


def paint(page, strokes):
    """Drags the mouse along each stroke, in fractions of the photo's displayed box."""
    box = page.get_by_test_id("mask").bounding_box()
    for stroke in strokes:
        points = [
            (box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke
        ]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()


def swipe(page, stroke):
    """Drags one finger along a stroke through real touch events, which the browser turns
    into pointer events of type "touch", as on a phone."""
    box = page.get_by_test_id("mask").bounding_box()
    points = [
        {"x": box["x"] + fx * box["width"], "y": box["y"] + fy * box["height"]} for fx, fy in stroke
    ]
    session = page.context.new_cdp_session(page)
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
    for start, end in itertools.pairwise(points):
        for fraction in np.linspace(0, 1, 9)[1:]:
            point = {axis: start[axis] + fraction * (end[axis] - start[axis]) for axis in start}
            session.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    session.detach()


def painted_pixels(page):
    return page.get_by_test_id("mask").evaluate(
        """canvas => {
            const { width, height } = canvas;
            const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            let count = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) count++;
            return count;
        }"""
    )


def download(page, button_name):
    with page.expect_download() as event:
        page.get_by_role("button", name=button_name).click()
    return Image.open(io.BytesIO(Path(event.value.path()).read_bytes()))


def wait_done(page):
    page.get_by_role("status").get_by_text("Done.").wait_for(timeout=FILL_TIMEOUT_MS)


def near_mask(mask):
    """The painted pixels and a margin: the service grows the holes by a few pixels to
    cover the brush's soft edge."""
    import cv2

    return cv2.dilate(mask, np.ones((15, 15), np.uint8)) > 0


def fill_and_wait(page):
    """Fills, and waits for the new version to be shown."""
    made = len(versions(page)[0]) or 1
    page.get_by_role("button", name="Fill", exact=True).click()
    strip = page.get_by_role("navigation", name="Versions")
    strip.get_by_role("button", name=re.compile(f"^Fill {made}: ")).wait_for(
        timeout=FILL_TIMEOUT_MS
    )
    wait_done(page)


def versions(page):
    """The versions strip's labels, and which one is shown."""
    strip = page.get_by_role("navigation", name="Versions")
    if not strip.is_visible():
        return [], None
    names = strip.locator("button.version > span")
    labels = [names.nth(index).inner_text() for index in range(names.count())]
    current = strip.locator("button.version[aria-current=true] > span").inner_text()
    return labels, current


def status_text(page):
    return page.locator(".fill-panel .status").inner_text()


def slow_polls(page, seconds=1.0):
    def slow_poll(route):
        # A slow network on the job's polls: the fill is still waiting a while.
        time.sleep(seconds)
        route.continue_()

    page.route("**/api/jobs/*", slow_poll)
