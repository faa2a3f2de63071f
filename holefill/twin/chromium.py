"""The browser that the web app's tests and benchmarks drive: Debian's Chromium, through
Playwright (whose own browser download cannot run here)."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing that would reach beyond 127.0.0.1 or use a GPU.
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


def launch(playwright):
    """Chromium, launched by a started `playwright` (`sync_playwright().start()`)."""
    if not CHROMIUM.is_file():
        raise FileNotFoundError(
            f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
