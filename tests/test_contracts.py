"""Facts that two parts of the stack state, where one cannot import the other (the zip
function has no `holefill`, the web app no Python): each pair is checked to agree here."""

import re
import subprocess
import sys

from PIL import Image

from holefill.imaging.photos import READ_FORMATS
from holefill.inference.inpainter import DEFAULT_MONTE_CARLO_SAMPLES, MAX_UNCERTAINTY_SAMPLES
from holefill.inference.strategies import STRATEGIES
from holefill.inference.synthesis import DEFAULT_FILL, FILLS
from holefill.inference.uncertainty import CHOICES
from holefill.twin.functions import REPO_ROOT
from holefill_service import formats, jobs

FRONTEND_SOURCES = REPO_ROOT / "frontend" / "src"


def test_the_web_app_types_are_the_openapi_documents():
    check = subprocess.run(
        [sys.executable, "scripts/api_types.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_the_service_takes_the_strategies_fills_and_uncertainty_maps_that_inference_has():
    assert jobs.STRATEGIES == STRATEGIES
    assert jobs.UNCERTAINTY_CHOICES == CHOICES
    assert jobs.FILLS == FILLS and jobs.FILLS[0] == DEFAULT_FILL


def test_the_services_sample_limits_are_the_librarys():
    assert jobs.MAX_UNCERTAINTY_SAMPLES == MAX_UNCERTAINTY_SAMPLES
    assert jobs.DEFAULT_UNCERTAINTY_SAMPLES == DEFAULT_MONTE_CARLO_SAMPLES


def test_the_formats_the_api_takes_are_those_holefill_reads():
    Image.init()
    read = {Image.MIME[image_format] for image_format in READ_FORMATS}
    # HEIC files are HEIF to Pillow (pillow-heif): browsers type them either way.
    assert read | {"image/heic"} == set(formats.IMAGE_CONTENT_TYPES)
    # The web app sniffs a photo's type from its header: only types the API takes.
    sniffed = set(
        re.findall(r'"(image/[a-z]+)"', (FRONTEND_SOURCES / "imageHeader.ts").read_text())
    )
    assert sniffed and sniffed <= set(formats.IMAGE_CONTENT_TYPES)
