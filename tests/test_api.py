"""The ApiFunction's app, built by `create_app` in this process: no environment, no S3, no
queue. What it does against real S3 is tests/test_service_*.py's."""

import json

import pytest

from holefill.twin.functions import REPO_ROOT, LambdaContext, load_function
from holefill_service import jobs
from holefill_service.settings import Settings

EVENTS = REPO_ROOT / "events"
API_VARIABLES = ("UPLOADS_BUCKET", "RESULTS_BUCKET", "ALLOWED_ORIGIN", "JOB_QUEUE_URL")


@pytest.fixture
def app(monkeypatch):
    for name in API_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(uploads_bucket="uploads", results_bucket="results", max_pixels=4_000_000)
    return load_function("api").create_app(settings, s3=None, job_queue=None)


def answer(app, event_name, **body_changes):
    event = json.loads((EVENTS / event_name).read_text())
    if body_changes:
        event["body"] = json.dumps({**json.loads(event["body"]), **body_changes})
    response = app.resolve(event, LambdaContext("api"))
    return response["statusCode"], json.loads(response["body"])


def test_the_api_builds_from_its_settings_without_an_environment(app):
    status, limits = answer(app, "api-get-limits.json")
    assert status == 200
    assert limits["max_pixels"] == 4_000_000
    assert limits["max_uncertainty_samples"] == jobs.MAX_UNCERTAINTY_SAMPLES


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"strategy": "zoom"}, "strategy: Input should be 'auto', 'crop', 'tile' or 'resize'"),
        ({"fill": "blur"}, "fill: Input should be 'synthesis' or 'network'"),
        ({"uncertainty": "guess"}, "uncertainty: Input should be 'auto', 'none', 'error-map'"),
        (
            {"uncertainty": "monte-carlo", "uncertainty_samples": jobs.MAX_UNCERTAINTY_SAMPLES + 1},
            f"uncertainty_samples: Input should be less than or equal to "
            f"{jobs.MAX_UNCERTAINTY_SAMPLES}",
        ),
        ({"uncertainty_samples": 8}, "uncertainty_samples applies to uncertainty monte-carlo"),
    ],
)
def test_a_job_is_checked_once_at_the_edge_against_the_services_own_types(app, changes, named):
    # Refused before any S3 call: this app has no S3 client to make one with.
    status, body = answer(app, "api-post-jobs.json", **changes)
    assert status == 422
    assert body["error"]["code"] == "invalid_request"
    assert named in body["error"]["message"]


def test_the_openapi_document_carries_the_choices_as_enums(app):
    document = load_function("api").openapi_document(app)
    request = document["components"]["schemas"]["JobRequest"]["properties"]
    assert tuple(request["strategy"]["enum"]) == jobs.STRATEGIES
    assert tuple(request["fill"]["enum"]) == jobs.FILLS
    assert tuple(request["uncertainty"]["enum"]) == jobs.UNCERTAINTY_CHOICES
    samples = next(kind for kind in request["uncertainty_samples"]["anyOf"] if "maximum" in kind)
    assert (samples["minimum"], samples["maximum"]) == (2, jobs.MAX_UNCERTAINTY_SAMPLES)


def test_a_done_record_of_the_release_before_job_result_reads_with_its_result():
    older = {
        "id": "0123456789abcdef0123456789abcdef",
        "status": "done",
        "photo_key": "uploads/0123456789abcdef0123456789abcdef/photo",
        "mask_key": "uploads/0123456789abcdef0123456789abcdef/mask",
        "strategy": "auto",
        "secret_sha256": "0" * 64,
        "fill": "network",
        "created_at": "2026-12-06T10:00:00Z",
        "updated_at": "2026-12-06T10:00:09Z",
        "deadline": "2026-12-06T10:20:00Z",
        "applied_strategy": "tile",
        "result_key": "results/0123456789abcdef0123456789abcdef/result.png",
        "result_content_type": "image/png",
        "uncertainty_method": "error-map",
        "uncertainty_unit": "expected absolute error",
        "uncertainty_full_scale": 0.2,
    }
    job = jobs.Job.model_validate_json(json.dumps(older))
    assert job.result == jobs.JobResult(
        strategy="tile",
        fill="network",
        content_type="image/png",
        uncertainty=jobs.UncertaintyResult(
            method="error-map", unit="expected absolute error", full_scale=0.2
        ),
    )
    assert job.result_key == older["result_key"]
    without_map = {key: value for key, value in older.items() if "uncertainty" not in key}
    assert jobs.Job.model_validate(without_map).result.uncertainty is None
