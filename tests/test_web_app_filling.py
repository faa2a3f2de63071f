"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin: paint, fill, compare and download, then the editing loop: fills on the result, the
versions strip with undo and redo, the uncertainty map's legend, the rectangle, lasso and
grow tools, and another fill of the same mask. Screenshots of the main states go to
`test-artifacts/web-app/`; without `frontend/dist` or Chromium these tests skip, saying why
(and fail in CI), as conftest.py's `web_twin` and `browser` fixtures tell."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from web_app_helpers import (
    FILL_TIMEOUT_MS,
    download,
    fill_and_wait,
    mark,
    near_mask,
    on_phone,
    open_photo,
    paint,
    painted_pixels,
    photo_array,
    png_bytes,
    shot,
    status_text,
    swipe,
    versions,
    wait_done,
)

pytestmark = pytest.mark.slow


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
    # Each hole was filled, not handed back: the synthesis fuses its copies with the photo in
    # the gradient domain, which rebuilds these ramps to within a level, so the fill shows
    # in its rounding (a quarter of the values differ), not in a visible error.
    assert np.mean(fill_1[first_mask] != photo[first_mask]) > 0.05
    assert np.mean(fill_2[second_mask] != fill_1[second_mask]) > 0.05

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
