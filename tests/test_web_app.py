"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin: open, paint, fill, compare, download, and the error paths. Screenshots of the main
states go to `test-artifacts/web-app/`.

`make test` builds `frontend/dist` and installs Chromium first; run alone, this module
skips with the reason when either is missing, and fails instead in CI (CI=true), where a
skipped browser test would leave the gate green without it.
"""

import contextlib
import io
import itertools
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from holefill.twin.chromium import CHROMIUM, launch
from holefill.twin.functions import REPO_ROOT

DIST = REPO_ROOT / "frontend" / "dist"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "web-app"
# A job on the tiny model takes well under a second: this is room for a slow machine.
FILL_TIMEOUT_MS = 30_000

pytestmark = pytest.mark.slow


def missing(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test may not skip)")
    pytest.skip(reason)


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
        missing(f"the web app is not built ({DIST} is missing): `make test` builds it")
    twin.gateway.static_dir = DIST
    yield twin
    twin.gateway.static_dir = None


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        missing(f"Chromium is not installed at {CHROMIUM}: `make test` installs it with apt")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
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
    errors, console = [], []
    page.on("pageerror", lambda error: errors.append(error))
    page.on("console", lambda message: console.append(message.text))
    # 127.0.0.1, not localhost: the twin's S3 allows that origin (CORS).
    page.goto(web_twin.url)
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    # Chromium's advice for a canvas whose pixels are read back without asking for it.
    assert not [text for text in console if "willReadFrequently" in text]


@pytest.fixture
def page(browser, web_twin):
    yield from open_app(browser, web_twin, viewport={"width": 1100, "height": 720})


PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}


@pytest.fixture
def phone(browser, web_twin):
    """A touch-screen phone: no mouse, a narrow viewport."""
    yield from open_app(browser, web_twin, **PHONE)


@pytest.fixture(params=["desktop", "phone"])
def screen(request, browser, web_twin):
    """The app on a desktop window with a mouse, then on a 390 x 844 touch phone."""
    if request.param == "desktop":
        yield from open_app(browser, web_twin, viewport={"width": 1100, "height": 720})
    else:
        yield from open_app(browser, web_twin, **PHONE)


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

    fill_and_wait(page)
    assert "Fill 1 is a PNG photo." in page.get_by_role("status").all_inner_texts()[-1]
    # The result is the canvas now: all of it shown, labelled, with an empty mask on it.
    assert versions(page) == (["Original", "Fill 1"], "Fill 1")
    assert painted_pixels(page) == 0
    assert page.get_by_text("After", exact=True).is_visible()
    assert not page.get_by_text("Before", exact=True).is_visible()
    page.get_by_label("Before / after").fill("50")
    assert page.get_by_text("Before", exact=True).is_visible()
    page.screenshot(path=artifacts / "3-result-compare.png")
    # Hold to compare: the version before the fill, alone, while the key or button is held.
    result = page.get_by_alt_text("The filled photo")
    page.keyboard.down("c")
    result.wait_for(state="detached")
    assert page.get_by_text("Before", exact=True).is_visible()
    assert not page.get_by_text("After", exact=True).is_visible()
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
    assert "off by 20% of the brightness range or more" in legend.inner_text()
    # The precise unit, the API's words, is the legend's tooltip.
    assert "expected absolute error" in legend.locator("p").get_attribute("title")
    # Over the filled side of the slider only, as the result is, at the chosen opacity.
    result_clip = result.evaluate("image => image.style.clipPath")
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
    # Beside the coloured map, its values: 16-bit grey, 0 off the holes.
    data = download(page, "Download map data (16-bit)")
    assert (data.format, data.mode[:4], data.size) == ("PNG", "I;16", photo.shape[1::-1])
    levels = np.asarray(data)
    assert levels[mask > 0].max() > 0 and not levels[~near_mask(mask)].any()

    with page.expect_download() as event:
        page.get_by_role("button", name="Download result").click()
    assert event.value.suggested_filename == "gradient-fill-1.png"
    result = Image.open(io.BytesIO(Path(event.value.path()).read_bytes()))
    assert result.format == "PNG"
    result = np.asarray(result.convert("RGB"))
    assert result.shape == photo.shape
    near_hole = near_mask(mask)
    np.testing.assert_array_equal(result[~near_hole], photo[~near_hole])
    inside = mask > 0
    assert np.abs(result[inside].astype(int) - photo[inside]).mean() > 1


def download_version(page, label):
    with page.expect_download() as event:
        page.get_by_role("button", name=f"Download {label}").click()
    image = Image.open(io.BytesIO(Path(event.value.path()).read_bytes()))
    return event.value.suggested_filename, np.asarray(image.convert("RGB"))


def test_fill_again_on_the_result_and_step_through_the_versions(page, artifacts):
    """The editing loop: a second object removed from the filled photo, then back and
    forth over both fills with undo, redo and the versions strip."""
    photo = photo_array()
    open_photo(page, "gradient.png", png_bytes(photo))
    paint(page, [[(0.2, 0.3), (0.35, 0.35)]])
    first_mask = np.asarray(download(page, "Download mask").convert("L")) > 0
    fill_and_wait(page)
    # The second stroke goes on the result, and the second fill starts from it.
    paint(page, [[(0.6, 0.6), (0.8, 0.7)]])
    second_mask = np.asarray(download(page, "Download mask").convert("L")) > 0
    assert not (first_mask & second_mask).any()
    fill_and_wait(page)
    assert versions(page) == (["Original", "Fill 1", "Fill 2"], "Fill 2")
    page.screenshot(path=artifacts / "11-second-fill.png")

    name, fill_1 = download_version(page, "Fill 1")
    assert name == "gradient-fill-1.png"
    _, fill_2 = download_version(page, "Fill 2")
    # Fill 2 keeps Fill 1's fill of the first hole, and fills the second one too.
    kept = ~near_mask(second_mask.astype(np.uint8))
    np.testing.assert_array_equal(fill_2[kept], fill_1[kept])
    assert np.abs(fill_1[first_mask].astype(int) - photo[first_mask]).mean() > 1
    assert np.abs(fill_2[second_mask].astype(int) - fill_1[second_mask]).mean() > 1

    # Undo steps back over the second fill: its stroke is back, on Fill 1.
    page.keyboard.press("Control+z")
    assert versions(page)[1] == "Fill 1" and painted_pixels(page) > 0
    page.keyboard.press("Control+z")
    assert versions(page)[1] == "Fill 1" and painted_pixels(page) == 0
    page.keyboard.press("Control+z")
    assert versions(page)[1] == "Original" and painted_pixels(page) > 0
    for _ in range(3):
        page.keyboard.press("Shift+Control+z")
    assert versions(page)[1] == "Fill 2" and painted_pixels(page) == 0

    # Any version can be gone back to, from the strip, and that too can be undone.
    page.get_by_role("button", name="Original: the photo as opened").click()
    assert versions(page)[1] == "Original"
    assert page.get_by_alt_text("The photo", exact=True).is_visible()
    page.screenshot(path=artifacts / "12-versions-original.png")
    page.keyboard.press("Control+z")
    assert versions(page)[1] == "Fill 2"
    name, original = download_version(page, "Original")
    assert name == "gradient.png"
    np.testing.assert_array_equal(original, photo)


def test_work_survives_a_reload_and_a_new_photo_asks_first(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    paint(page, [[(0.2, 0.3), (0.4, 0.35)]])
    fill_and_wait(page)
    paint(page, [[(0.6, 0.6), (0.8, 0.7)]])
    painted = painted_pixels(page)
    # The work is written a moment after the last change.
    page.wait_for_timeout(1000)
    page.reload()
    page.get_by_text("Your work on “gradient.png” is back as you left it.").wait_for()
    assert versions(page) == (["Original", "Fill 1"], "Fill 1")
    assert painted_pixels(page) == painted
    page.screenshot(path=artifacts / "13-restored.png")
    # The restored result is a photo as any other: filling it again works.
    fill_and_wait(page)
    assert versions(page) == (["Original", "Fill 1", "Fill 2"], "Fill 2")

    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    open_photo(page, "other.png", png_bytes(photo_array(200, 300)))
    for _ in range(100):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "“gradient.png”, its 2 fills and the mask, will be replaced" in asked[0]
    assert versions(page) == (["Original", "Fill 1", "Fill 2"], "Fill 2")
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    open_photo(page, "other.png", png_bytes(photo_array(200, 300)))
    page.get_by_role("navigation", name="Versions").wait_for(state="detached")
    assert page.get_by_test_id("mask").evaluate("mask => [mask.width, mask.height]") == [300, 200]


def test_a_text_file_is_refused(page, artifacts):
    open_photo(page, "notes.txt", b"not a photo", mime="text/plain")
    alert = page.get_by_role("alert")
    alert.get_by_text("This file cannot be opened").wait_for()
    assert "is not a photo Holefill can read. Open a JPEG, PNG, WebP, HEIC" in alert.inner_text()
    assert alert.get_by_role("button", name="Choose another photo").is_visible()
    page.screenshot(path=artifacts / "5-error-not-a-photo.png")


def huge_png(side=30000):
    """A bilevel PNG of side x side pixels: 900 megapixels in a few hundred kilobytes."""
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "refusal"),
    [
        # The twin takes 4 megapixels: this one is over, in a small file.
        (
            "wide.png",
            lambda: png_bytes(photo_array(1600, 2600)),
            "is 2600\N{MULTIPLICATION SIGN}1600 = 4.2 megapixels",
        ),
        # The twin takes 2 MB: noise does not compress.
        (
            "noise.png",
            lambda: png_bytes(np.random.default_rng(0).integers(0, 256, (900, 900, 3), np.uint8)),
            "MB; Holefill takes files of up to 2.0 MB",
        ),
    ],
    ids=["megapixels", "bytes"],
)
def test_a_photo_over_the_limits_is_refused_at_once_and_a_smaller_copy_fills(
    page, artifacts, name, data, refusal
):
    open_photo(page, name, data())
    alert = page.get_by_role("alert")
    alert.get_by_text("This photo is too large").wait_for()
    assert refusal in alert.inner_text()
    assert not page.get_by_test_id("mask").is_visible(), "nothing is opened over the limits"
    page.screenshot(path=artifacts / f"6-too-large-{Path(name).stem}.png")
    alert.get_by_role("button", name="Make a smaller copy").click()
    page.get_by_text("Opened a smaller copy").wait_for()
    width, height = page.get_by_test_id("mask").evaluate("mask => [mask.width, mask.height]")
    assert width * height <= 4_000_000
    paint(page, [[(0.4, 0.4), (0.6, 0.6)]])
    fill_and_wait(page)


def test_a_photo_past_what_a_browser_decodes_is_refused_by_its_header(page, artifacts):
    open_photo(page, "huge.png", huge_png())
    alert = page.get_by_role("alert")
    alert.get_by_text("This photo is too large").wait_for()
    assert "is 30000\N{MULTIPLICATION SIGN}30000 = 900.0 megapixels" in alert.inner_text()
    assert "damaged" not in alert.inner_text()
    page.screenshot(path=artifacts / "7-too-many-pixels.png")


def heic_and_avif(image_format):
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.fromarray(photo_array()).save(buffer, format=image_format, quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("image_format", "name"), [("HEIF", "IMG_0001.HEIC"), ("AVIF", "photo.avif")]
)
def test_heic_and_avif_are_filled_and_come_back_as_jpeg(page, artifacts, image_format, name):
    # Chromium shows AVIF itself; HEIC through libheif's WebAssembly, loaded for it.
    open_photo(page, name, heic_and_avif(image_format), mime="")
    page.get_by_test_id("mask").wait_for()
    assert page.get_by_test_id("mask").evaluate("mask => [mask.width, mask.height]") == [320, 240]
    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    fill_and_wait(page)
    status = page.get_by_role("status").all_inner_texts()[-1]
    shown_as = "HEIC" if image_format == "HEIF" else "AVIF"
    assert f"Fill 1 is a JPEG photo. {shown_as} photos come back as JPEG" in status
    page.screenshot(path=artifacts / f"14-{shown_as.lower()}-filled.png")
    with page.expect_download() as event:
        page.get_by_role("button", name="Download result").click()
    assert event.value.suggested_filename == f"{Path(name).stem}-fill-1.jpg"
    result = Image.open(io.BytesIO(Path(event.value.path()).read_bytes()))
    assert (result.format, result.size) == ("JPEG", (320, 240))


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
    status = page.get_by_role("status").filter(has_text="Fill cancelled")
    assert "The mask is as you left it" in status.inner_text()
    assert painted_pixels(page) == painted
    assert versions(page) == ([], None)

    page.unroute("**/api/jobs/*")
    fill_and_wait(page)


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
    fill_and_wait(page)
    # The keyboard focus stays on Fill through the job, not on the page.
    assert page.evaluate("document.activeElement.textContent") == "Fill"
    paint(page, [[(0.1, 0.7), (0.3, 0.8)]])
    fill_and_wait(page)
    page.get_by_label("Uncertainty map").check()
    page.get_by_label("Before / after").fill("40")
    # With the result, the comparison, the map and the versions strip all on screen.
    assert serious_accessibility_violations(page) == []
    page.screenshot(path=artifacts / "9-accessibility-checked.png")


def test_fill_after_each_stroke_is_remembered(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    page.get_by_label("Fill after each stroke").check()
    paint(page, [[(0.2, 0.3), (0.4, 0.35)]])
    wait_done(page)
    assert versions(page) == (["Original", "Fill 1"], "Fill 1")
    # A stroke over the result fills again, from that result.
    paint(page, [[(0.6, 0.6), (0.8, 0.7)]])
    page.get_by_role("button", name="Fill 2: filled from Fill 1").wait_for()
    assert versions(page) == (["Original", "Fill 1", "Fill 2"], "Fill 2")
    page.screenshot(path=artifacts / "10-auto-fill.png")
    page.reload()
    page.get_by_test_id("mask").wait_for()
    assert page.get_by_label("Fill after each stroke").is_checked()


@contextlib.contextmanager
def finger_on(page, locator):
    """A finger held on the middle of `locator`, as real touch events, until the block ends."""
    box = locator.bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    session = page.context.new_cdp_session(page)
    session.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    try:
        yield
    finally:
        session.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        session.detach()


def test_the_editing_loop_with_a_finger_on_a_phone(phone, artifacts):
    open_photo(phone, "gradient.png", png_bytes(photo_array()))
    phone.get_by_test_id("mask").wait_for()
    box = phone.get_by_test_id("mask").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, "the photo overflows the screen"
    swipe(phone, [(0.2, 0.3), (0.5, 0.4)])
    assert painted_pixels(phone) > 0
    phone.screenshot(path=artifacts / "5-phone-painted.png")
    # Fill is clicked, not tapped: on a loaded machine the tap's touch events can arrive
    # far enough apart to read as a long press, which fires no click (the painting is the
    # touch path under test).
    fill_and_wait(phone)
    # A second object, painted with a finger on the result, filled from it.
    swipe(phone, [(0.6, 0.6), (0.8, 0.75)])
    assert painted_pixels(phone) > 0
    fill_and_wait(phone)
    assert versions(phone) == (["Original", "Fill 1", "Fill 2"], "Fill 2")

    # Press and hold the button with a finger: the version before shows while it is held.
    hold = phone.get_by_role("button", name="Hold to compare")
    hold.scroll_into_view_if_needed()
    result = phone.get_by_alt_text("The filled photo")
    with finger_on(phone, hold):
        result.wait_for(state="detached")
        phone.screenshot(path=artifacts / "6-phone-holding.png", full_page=True)
    result.wait_for()
    original = phone.get_by_role("button", name="Original: the photo as opened")
    original.scroll_into_view_if_needed()
    original.click()
    assert versions(phone)[1] == "Original"
    phone.screenshot(path=artifacts / "6-phone-versions.png", full_page=True)


def status_text(page):
    return page.locator(".fill-panel .status").inner_text()


def test_the_photo_keeps_most_of_a_phone_screen_after_three_fills_with_the_map_on(phone, artifacts):
    open_photo(phone, "square.png", png_bytes(photo_array(512, 512)))
    phone.get_by_test_id("mask").wait_for()
    for stroke in ([(0.2, 0.2), (0.4, 0.3)], [(0.6, 0.6), (0.8, 0.7)], [(0.2, 0.8), (0.4, 0.7)]):
        swipe(phone, stroke)
        fill_and_wait(phone)
        phone.get_by_label("Uncertainty map", exact=True).check()
    assert versions(phone)[1] == "Fill 3"
    phone.keyboard.press("0")  # fitted again, as after any change of the stage's size
    box = phone.get_by_test_id("mask").bounding_box()
    phone.screenshot(path=artifacts / "20-phone-three-fills-map.png")
    # The stage keeps at least 60% of the editor; a 512 px square fills its width.
    assert box["width"] >= 300 and box["height"] >= 300, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844


def animated_gif(frames=5):
    images = [Image.fromarray(photo_array() // (index + 1)) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], loop=0)
    return buffer.getvalue()


def test_bad_files_are_told_at_open_and_an_animation_offers_its_first_frame(screen, artifacts):
    open_photo(screen, "party.gif", animated_gif(), mime="image/gif")
    alert = screen.get_by_role("alert")
    alert.get_by_text("This is an animation").wait_for()
    assert "an animation of 5 frames; Holefill fills still photos" in alert.inner_text()
    assert not screen.get_by_test_id("mask").is_visible(), "nothing to paint on yet"
    shot(screen, artifacts, "21-animated-gif")
    alert.get_by_role("button", name="Use the first frame").click()
    screen.get_by_text("Opened the first frame of “party.gif” as “party-frame-1.png”.").wait_for()
    assert screen.get_by_test_id("mask").evaluate("mask => [mask.width, mask.height]") == [320, 240]
    mark(screen, [(0.3, 0.3), (0.6, 0.6)])
    fill_and_wait(screen)

    buffer = io.BytesIO()
    Image.fromarray(photo_array()).save(buffer, format="JPEG", quality=90)
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 3]
    screen.once("dialog", lambda dialog: dialog.accept())
    open_photo(screen, "cut.jpg", truncated, mime="image/jpeg")
    alert.get_by_text("This file cannot be opened").wait_for()
    assert "“cut.jpg” is damaged: the file ends before the picture does" in alert.inner_text()
    assert versions(screen)[1] == "Fill 1", "the work on screen is kept"
    shot(screen, artifacts, "22-truncated-jpeg")


def test_only_formats_this_browser_shows_are_offered(page, artifacts):
    start = page.locator("main.empty")
    start.get_by_text("or drop one here").wait_for()
    page.wait_for_function("document.querySelector('main.empty').innerText.includes('JPEG')")
    assert "TIFF" not in start.inner_text() and "HEIC" in start.inner_text()
    accept = page.get_by_test_id("photo-input").get_attribute("accept")
    assert "image/jpeg" in accept and "image/heic" in accept and "tif" not in accept
    buffer = io.BytesIO()
    Image.fromarray(photo_array()).save(buffer, format="TIFF")
    open_photo(page, "scan.tif", buffer.getvalue(), mime="image/tiff")
    alert = page.get_by_role("alert")
    alert.get_by_text("This file cannot be opened").wait_for()
    assert "a TIFF, which this browser cannot show" in alert.inner_text()


def slow_polls(page, seconds=1.0):
    def slow_poll(route):
        # A slow network on the job's polls: the fill is still waiting a while.
        time.sleep(seconds)
        route.continue_()

    page.route("**/api/jobs/*", slow_poll)


def test_a_fill_survives_a_reload(screen, artifacts):
    open_photo(screen, "gradient.png", png_bytes(photo_array()))
    mark(screen, [(0.3, 0.3), (0.6, 0.6)])
    slow_polls(screen)
    screen.get_by_role("button", name="Fill", exact=True).click()
    screen.get_by_role("button", name="Cancel").wait_for()
    screen.get_by_text(re.compile("^(Queued|Filling)")).wait_for(timeout=FILL_TIMEOUT_MS)
    screen.wait_for_timeout(1000)  # the work, with its job, is written a moment later
    screen.unroute("**/api/jobs/*")
    screen.reload()
    screen.get_by_text("The fill that was running is followed again.").wait_for()
    strip = screen.get_by_role("navigation", name="Versions")
    strip.get_by_role("button", name="Fill 1: filled from Original").wait_for(
        timeout=FILL_TIMEOUT_MS
    )
    assert status_text(screen).startswith("Done. Fill 1 is a PNG photo.")
    shot(screen, artifacts, "23-fill-followed-after-reload")
    # Nothing pending is left: another reload brings the result, and no fill runs.
    screen.wait_for_timeout(1000)
    screen.reload()
    screen.get_by_text("Your work on “gradient.png” is back as you left it.").wait_for()
    assert versions(screen) == (["Original", "Fill 1"], "Fill 1")
    assert not screen.get_by_role("button", name="Cancel").is_visible()


def test_a_fill_whose_job_is_gone_after_a_reload_says_so(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    slow_polls(page, seconds=2.0)
    page.get_by_role("button", name="Fill", exact=True).click()
    page.get_by_text(re.compile("^(Queued|Filling)")).wait_for(timeout=FILL_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    page.unroute("**/api/jobs/*")
    # The job's record is gone (as when its records expired): the API answers 404.
    gone = '{"error": {"code": "job_not_found", "message": "No such job."}}'
    page.route(
        "**/api/jobs/*",
        lambda route: route.fulfill(status=404, body=gone, content_type="application/json"),
    )
    page.reload()
    page.get_by_text("could not be followed: press Fill to start it again").wait_for(
        timeout=FILL_TIMEOUT_MS
    )
    assert painted_pixels(page) > 0, "the mask is kept for the next Fill"
    page.screenshot(path=artifacts / "24-fill-gone-after-reload.png")


def test_the_status_and_the_versions_follow_undo_redo(screen, artifacts):
    open_photo(screen, "gradient.png", png_bytes(photo_array()))
    mark(screen, [(0.3, 0.3), (0.6, 0.6)])
    fill_and_wait(screen)
    strip = screen.get_by_role("navigation", name="Versions")
    assert "from Original" in strip.locator("li").nth(1).inner_text()
    screen.get_by_role("button", name="Undo").click()
    assert versions(screen)[1] == "Original"
    assert status_text(screen) == "Showing Original. Fill 1 is undone: Redo brings it back."
    assert strip.locator("li.undone").count() == 1
    strip.get_by_role("button", name="Fill 1: filled from Original (undone)").wait_for()
    shot(screen, artifacts, "25-fill-undone")
    screen.get_by_role("button", name="Redo").click()
    assert status_text(screen).startswith("Done. Fill 1 is a PNG photo.")
    assert strip.locator("li.undone").count() == 0
    # A fill painted on the original, beside Fill 1: it says where it came from.
    screen.get_by_role("button", name="Original: the photo as opened").click()
    assert status_text(screen) == "Showing Original."
    mark(screen, [(0.1, 0.8), (0.3, 0.9)])
    fill_and_wait(screen)
    assert "from Original" in strip.locator("li").nth(2).inner_text()


def test_small_photos_are_enlarged_to_fit(page, artifacts):
    open_photo(page, "icon.png", png_bytes(photo_array(60, 80)))
    box = page.get_by_test_id("mask").bounding_box()
    assert box["width"] > 4 * 80, box  # a 1100 x 720 window, less the panels
    page.keyboard.press("-")
    page.keyboard.press("0")
    assert page.get_by_test_id("mask").bounding_box() == box
    page.screenshot(path=artifacts / "26-small-photo-fitted.png")


def test_enter_fills_escape_cancels_and_question_mark_lists_the_shortcuts(page, artifacts):
    open_photo(page, "gradient.png", png_bytes(photo_array()))
    paint(page, [[(0.3, 0.3), (0.6, 0.6)]])
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    dialog.wait_for()
    assert "Enter or F" in dialog.inner_text() and "Cancel the fill" in dialog.inner_text()
    page.screenshot(path=artifacts / "27-shortcuts.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    slow_polls(page)
    page.get_by_test_id("mask").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Cancel").wait_for()
    page.keyboard.press("Escape")
    page.get_by_text("Fill cancelled").wait_for()
    page.unroute("**/api/jobs/*")
    page.keyboard.press("f")
    page.get_by_role("navigation", name="Versions").get_by_role(
        "button", name=re.compile("^Fill 1: ")
    ).wait_for(timeout=FILL_TIMEOUT_MS)


def test_the_uncertainty_legend_speaks_plainly_and_shows_its_opacity(screen, artifacts):
    open_photo(screen, "gradient.png", png_bytes(photo_array()))
    mark(screen, [(0.3, 0.3), (0.6, 0.6)])
    fill_and_wait(screen)
    screen.get_by_label("Uncertainty map", exact=True).check()
    legend = screen.get_by_role("group", name="Uncertainty map legend")
    assert "Likely right" in legend.inner_text() and "Likely wrong" in legend.inner_text()
    assert "share of the full range" not in legend.inner_text()
    opacity = screen.get_by_label("Map opacity")
    assert screen.locator(".result-controls output").inner_text() == "70%"
    opacity.fill("40")
    assert screen.locator(".result-controls output").inner_text() == "40%"
    shot(screen, artifacts, "28-legend")


def drag(page, start, end, steps=10):
    """A drag between two points given in fractions of the photo's displayed box: a
    finger on a phone, the mouse elsewhere."""
    if on_phone(page):
        swipe(page, [start, end])
        return
    box = page.get_by_test_id("mask").bounding_box()
    page.mouse.move(box["x"] + start[0] * box["width"], box["y"] + start[1] * box["height"])
    page.mouse.down()
    page.mouse.move(
        box["x"] + end[0] * box["width"], box["y"] + end[1] * box["height"], steps=steps
    )
    page.mouse.up()


def test_a_rectangle_a_lasso_and_grow_the_mask(screen, artifacts):
    open_photo(screen, "gradient.png", png_bytes(photo_array()))  # 320 x 240
    screen.get_by_role("radio", name="Rectangle").click()
    drag(screen, (0.1, 0.1), (0.35, 0.35))  # 80 x 60 photo pixels
    rectangle = painted_pixels(screen)
    assert abs(rectangle - 80 * 60) < 0.05 * 80 * 60, rectangle
    # A click without a drag draws nothing.
    drag(screen, (0.8, 0.8), (0.8, 0.8), steps=1)
    assert painted_pixels(screen) == rectangle

    screen.get_by_role("radio", name="Lasso").click()
    mark(screen, [(0.5, 0.5), (0.9, 0.5), (0.9, 0.9), (0.5, 0.5)])  # a triangle
    triangle = painted_pixels(screen) - rectangle
    expected = 0.5 * (0.4 * 320) * (0.4 * 240)
    assert abs(triangle - expected) < 0.1 * expected, triangle

    screen.get_by_label("Pixels to grow the mask by").fill("5")
    screen.get_by_role("button", name="Grow mask by").click()
    grown = painted_pixels(screen)
    # The rectangle alone grows by its perimeter x 5 plus the corners' quarter discs.
    assert grown - rectangle - triangle > 2 * (80 + 60) * 5
    shot(screen, artifacts, "29-rectangle-lasso-grown")
    screen.get_by_role("button", name="Undo").click()
    assert painted_pixels(screen) == rectangle + triangle
    screen.get_by_role("button", name="Redo").click()
    assert painted_pixels(screen) == grown
    mask = np.asarray(download(screen, "Download mask").convert("L")) > 0
    assert mask.sum() == grown
    fill_and_wait(screen)


def test_try_another_fills_the_same_mask_with_other_patches(screen, artifacts):
    photo = photo_array()
    open_photo(screen, "gradient.png", png_bytes(photo))
    mark(screen, [(0.3, 0.3), (0.6, 0.6)])
    mask = np.asarray(download(screen, "Download mask").convert("L")) > 0
    fill_and_wait(screen)
    screen.get_by_role("button", name="Try another").click()
    strip = screen.get_by_role("navigation", name="Versions")
    strip.get_by_role("button", name="Fill 2: filled from Original").wait_for(
        timeout=FILL_TIMEOUT_MS
    )
    wait_done(screen)
    assert "Another fill of the same mask on Original." in status_text(screen)
    assert painted_pixels(screen) == 0
    shot(screen, artifacts, "30-try-another")
    _, first = download_version(screen, "Fill 1")
    _, second = download_version(screen, "Fill 2")
    kept = ~near_mask(mask.astype(np.uint8))
    np.testing.assert_array_equal(second[kept], photo[kept])
    assert np.abs(second[mask].astype(int) - first[mask]).mean() > 1, "another fill, not the same"
    # Once more from Fill 2: a third seed, again a sibling of Fill 1.
    screen.get_by_role("button", name="Try another").click()
    strip.get_by_role("button", name="Fill 3: filled from Original").wait_for(
        timeout=FILL_TIMEOUT_MS
    )
