"""Shared test set-up: the `needs_shared_data` marker skips where ../shared/data is absent."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the shared data set, absent at {SHARED_DATA}")
    for item in items:
        if "needs_shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    return SHARED_DATA
