"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin, opening photos: files that are not photos, damaged or animated, photos over the limits
(with a smaller copy offered) or past what a browser decodes, HEIC and AVIF filled and
given back as JPEG, only the formats this browser shows offered, and small photos enlarged
to fit. Screenshots go to `test-artifacts/web-app/`; without `frontend/dist` or Chromium
these tests skip, saying why (and fail in CI), as conftest.py's `web_twin` and `browser`
fixtures tell."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from web_app_helpers import (
    fill_and_wait,
    mark,
    open_photo,
    paint,
    photo_array,
    png_bytes,
    shot,
    versions,
)

pytestmark = pytest.mark.slow


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


def test_small_photos_are_enlarged_to_fit(page, artifacts):
    open_photo(page, "icon.png", png_bytes(photo_array(60, 80)))
    box = page.get_by_test_id("mask").bounding_box()
    assert box["width"] > 4 * 80, box  # a 1100 x 720 window, less the panels
    page.keyboard.press("-")
    page.keyboard.press("0")
    assert page.get_by_test_id("mask").bounding_box() == box
    page.screenshot(path=artifacts / "26-small-photo-fitted.png")
