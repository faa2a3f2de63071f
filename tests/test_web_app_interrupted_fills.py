"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin, when a fill is interrupted: the work survives a reload and a new photo asks first, a
running fill is followed again after a reload or says that its job is gone, the API down is
retried, and a fill is cancelled and started again. Screenshots go to
`test-artifacts/web-app/`; without `frontend/dist` or Chromium these tests skip, saying why
(and fail in CI), as conftest.py's `web_twin` and `browser` fixtures tell."""

import re
import time

import pytest
from web_app_helpers import (
    FILL_TIMEOUT_MS,
    fill_and_wait,
    mark,
    open_photo,
    paint,
    painted_pixels,
    photo_array,
    png_bytes,
    shot,
    slow_polls,
    status_text,
    versions,
    wait_done,
)

pytestmark = pytest.mark.slow


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
