"""The web app in a real browser (Debian Chromium, driven by Playwright) against the local
twin, without a mouse: the editing loop with a finger on a phone, the photo kept large on a
phone's screen, the keyboard first (shortcuts, Enter, Escape and `?`), and no serious
accessibility violations (axe-core). Screenshots go to `test-artifacts/web-app/`; without
`frontend/dist` or Chromium these tests skip, saying why (and fail in CI), as conftest.py's
`web_twin` and `browser` fixtures tell."""

import contextlib
import re

import pytest
from web_app_helpers import (
    FILL_TIMEOUT_MS,
    fill_and_wait,
    open_photo,
    paint,
    painted_pixels,
    photo_array,
    png_bytes,
    slow_polls,
    swipe,
    versions,
)

from holefill.twin.functions import REPO_ROOT

pytestmark = pytest.mark.slow


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
