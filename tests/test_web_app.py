"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin: open, paint, fill, compare, download, and the error paths. Screenshots of the main
states go to `test-artifacts/web-app/`.

`make test` builds `frontend/dist` and installs Chromium first; run alone, this module
skips with the reason when either is missing.
"""

import io
import itertools
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from holefill.twin.functions import REPO_ROOT

DIST = REPO_ROOT / "frontend" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web-app"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A job on the tiny model takes well under a second: this is room for a slow machine.
FILL_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.slow


def png_bytes(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def photo_array(height=240, width=320):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows, columns * 0.7, (rows + columns) % 256], axis=2).astype(np.uint8)


@pytest.fixture(scope="module")
def web_twin(twin):
    """The session's twin (2 MB uploads), serving the built app for this module's tests.

    One twin per process: a second one would take over the environment (credentials,
    endpoints) that the first one's functions read.
    """
    if not (DIST / "index.html").is_file():
        pytest.skip(f"the web app is not built ({DIST} is missing): `make test` builds it")
    twin.gateway.static_dir = DIST
    yield twin
    twin.gateway.static_dir = None


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: `make test` installs it with apt")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def open_app(browser, web_twin, **context_options):
    """A page on the app in a fresh context; fails the test on uncaught page errors."""
    context = browser.new_context(accept_downloads=True, **context_options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    # 127.0.0.1, not localhost: the twin's S3 allows that origin (CORS).
    page.goto(web_twin.url)
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser, web_twin):
    yield from open_app(browser, web_twin, viewport={"width": 1100, "height": 720})


@pytest.fixture
def phone(browser, web_twin):
    """A touch-screen phone: no mouse, a narrow viewport."""
    yield from open_app(
        browser,
        web_twin,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )


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


def test_paint_fill_compare_download(page, artifacts):
    photo = photo_array()
    open_photo(page, "gradient.png", png_bytes(photo))
    page.get_by_test_id("mask").wait_for()
    page.screenshot(path=artifacts / "1-opened.png")

    # Two strokes, the second undone and redone; the keyboard brush size changes the width.
    paint(page, [[(0.2, 0.5), (0.5, 0.45)]])
    page.keyboard.press("]")
    paint(page, [[(0.6, 0.3), (0.7, 0.7)]])
    both = painted_pixels(page)
    page.keyboard.press("Control+z")
    assert 0 < painted_pixels(page) < both
    page.keyboard.press("Shift+Control+z")
    assert painted_pixels(page) == both
    page.screenshot(path=artifacts / "2-painted.png")

    mask = np.asarray(download(page, "Download mask").convert("L"))
    assert mask.shape == photo.shape[:2]
    assert set(np.unique(mask)) == {0, 255}

    page.get_by_role("button", name="Fill", exact=True).click()
    wait_done(page)
    page.screenshot(path=artifacts / "3-result-compare.png")
    # Each side of the divide says what it shows; at the far left all is after.
    assert page.get_by_text("Before", exact=True).is_visible()
    assert page.get_by_text("After", exact=True).is_visible()
    page.get_by_label("Before / after").fill("0")
    assert not page.get_by_text("Before", exact=True).is_visible()
    # Hold to compare: the original, without the mask, while the key or button is held.
    result = page.get_by_alt_text("The filled photo")
    page.keyboard.down("c")
    result.wait_for(state="detached")
    assert page.get_by_text("Original", exact=True).is_visible()
    assert page.get_by_test_id("mask").evaluate("mask => mask.style.visibility") == "hidden"
    page.keyboard.up("c")
    result.wait_for()
    hold = page.get_by_role("button", name="Hold to compare")
    hold.hover()
    page.mouse.down()
    result.wait_for(state="detached")
    page.mouse.up()
    result.wait_for()
    page.get_by_label("Before / after").fill("20")
    page.get_by_label("Uncertainty map").check()
    overlay = page.get_by_alt_text("Where the fill is likely wrong: brighter is a larger expected")
    overlay.wait_for()
    legend = page.get_by_role("group", name="Uncertainty map legend")
    assert "20% or more" in legend.inner_text() and "expected absolute error" in legend.inner_text()
    # Over the filled side of the slider only, as the result is, at the chosen opacity.
    result_clip = page.get_by_alt_text("The filled photo").evaluate("image => image.style.clipPath")
    assert (
        overlay.evaluate("image => image.style.clipPath") == result_clip == "inset(0px 0px 0px 20%)"
    )
    page.get_by_label("Map opacity").fill("40")
    assert overlay.evaluate("image => image.style.opacity") == "0.4"
    page.screenshot(path=artifacts / "4-uncertainty.png")
    heatmap = download(page, "Download uncertainty map")
    assert (heatmap.format, heatmap.mode, heatmap.size) == ("PNG", "RGBA", photo.shape[1::-1])
    opaque = np.asarray(heatmap)[..., 3] > 0
    assert opaque[mask > 0].all() and not opaque[~near_mask(mask)].any()

    result = download(page, "Download result")
    assert result.format == "PNG"
    result = np.asarray(result.convert("RGB"))
    assert result.shape == photo.shape
    near_hole = near_mask(mask)
    np.testing.assert_array_equal(result[~near_hole], photo[~near_hole])
    inside = mask > 0
    assert np.abs(result[inside].astype(int) - photo[inside]).mean() > 1


def test_paint_and_fill_with_a_finger_on_a_phone(phone, artifacts):
    open_photo(phone, "gradient.png", png_bytes(photo_array()))
    phone.get_by_test_id("mask").wait_for()
    box = phone.get_by_test_id("mask").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, "the photo overflows the screen"
    swipe(phone, [(0.2, 0.3), (0.8, 0.6)])
    assert painted_pixels(phone) > 0
    phone.screenshot(path=artifacts / "5-phone-painted.png")
    fill = phone.get_by_role("button", name="Fill", exact=True)
    fill.scroll_into_view_if_needed()
    # A click, not a tap: on a loaded machine the tap's touch events can arrive far enough
    # apart to read as a long press, which fires no click (the painting above is the touch
    # path under test).
    fill.click()
    wait_done(phone)
    phone.screenshot(path=artifacts / "6-phone-result.png", full_page=True)


def test_a_text_file_is_refused(page, artifacts):
    open_photo(page, "notes.txt", b"not a photo", mime="text/plain")
    alert = page.get_by_role("alert")
    alert.get_by_text("This file cannot be opened").wait_for()
    assert "Open a JPEG, PNG" in alert.inner_text()
    assert alert.get_by_role("button", name="Choose another photo").is_visible()
    page.screenshot(path=artifacts / "5-error-not-a-photo.png")


def test_a_photo_over_the_limit_is_refused(page, artifacts):
    noise = np.random.default_rng(0).integers(0, 256, (900, 900, 3), dtype=np.uint8)
    data = png_bytes(noise)
    assert len(data) > 2_000_000
    open_photo(page, "noise.png", data)
    paint(page, [[(0.4, 0.4), (0.6, 0.6)]])
    painted = painted_pixels(page)
    page.get_by_role("button", name="Fill", exact=True).click()
    alert = page.get_by_role("alert")
    alert.get_by_text("The photo is too large").wait_for()
    assert "the limit is 2.0 MB" in alert.inner_text()
    assert painted_pixels(page) == painted
    page.screenshot(path=artifacts / "6-error-too-large.png")


def test_the_api_down_then_retry(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    painted = painted_pixels(page)
    page.route("**/api/**", lambda route: route.abort())
    page.get_by_role("button", name="Fill", exact=True).click()
    alert = page.get_by_role("alert")
    alert.get_by_text("The server cannot be reached").wait_for()
    page.screenshot(path=artifacts / "7-error-api-down.png")
    assert painted_pixels(page) == painted

    page.unroute("**/api/**")
    alert.get_by_role("button", name="Retry").click()
    wait_done(page)
    assert not page.get_by_role("alert").is_visible()


def test_a_fill_can_be_cancelled_and_started_again(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    painted = painted_pixels(page)

    def slow_poll(route):
        # A slow network on the job's polls: the fill is still waiting when Cancel comes.
        time.sleep(1.0)
        route.continue_()

    page.route("**/api/jobs/*", slow_poll)
    page.get_by_role("button", name="Fill", exact=True).click()
    cancel = page.get_by_role("button", name="Cancel")
    cancel.wait_for()
    page.screenshot(path=artifacts / "8-filling-cancel.png")
    cancel.click()
    cancel.wait_for(state="detached")
    fill = page.get_by_role("button", name="Fill", exact=True)
    assert fill.get_attribute("aria-disabled") == "false"
    assert not page.get_by_role("alert").is_visible(), "a cancel is not an error"
    assert not page.get_by_text("Done.").is_visible()
    assert painted_pixels(page) == painted

    page.unroute("**/api/jobs/*")
    page.get_by_role("button", name="Fill", exact=True).click()
    wait_done(page)


AXE = REPO_ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"


def serious_accessibility_violations(page):
    """axe-core's serious and critical findings on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        (violation["id"], [node["target"] for node in violation["nodes"]][:3])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]


def test_keyboard_first_and_no_serious_accessibility_violations(page, artifacts):
    assert serious_accessibility_violations(page) == []  # the empty app
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    page.get_by_test_id("mask").wait_for()
    size = page.get_by_label("Size")
    before = int(size.input_value())
    # Shortcuts work at once after opening a photo: no click on it (which would paint) first.
    page.keyboard.press("]")
    assert int(size.input_value()) > before
    assert painted_pixels(page) == 0
    assert serious_accessibility_violations(page) == []

    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    fill = page.get_by_role("button", name="Fill", exact=True)
    fill.click()
    wait_done(page)
    # The keyboard focus stays on Fill through the job, not on the page.
    assert page.evaluate("document.activeElement.textContent") == "Fill"
    page.get_by_label("Uncertainty map").check()
    assert serious_accessibility_violations(page) == []
    page.screenshot(path=artifacts / "9-accessibility-checked.png")


def test_fill_after_each_stroke_is_remembered(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    page.get_by_label("Fill after each stroke").check()
    paint(page, [[(0.2, 0.3), (0.4, 0.35)]])
    wait_done(page)
    first = page.get_by_alt_text("The filled photo").get_attribute("src")
    # A stroke over the shown result fills again, with both strokes.
    paint(page, [[(0.6, 0.6), (0.8, 0.7)]])
    page.get_by_alt_text("The filled photo").wait_for(state="detached")
    wait_done(page)
    assert page.get_by_alt_text("The filled photo").get_attribute("src") != first
    page.screenshot(path=artifacts / "10-auto-fill.png")
    page.reload()
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    assert page.get_by_label("Fill after each stroke").is_checked()
