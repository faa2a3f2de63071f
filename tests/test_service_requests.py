"""The API's Lambda handler against a real S3 (SeaweedFS), through the local twin and
directly with the events in `events/`: bad uploads fail their job and bad requests are
answered with a clear 4xx, the limits it publishes are the ones it enforces, and only the
owner of an upload or a job can use it, a few jobs at most."""

import json
import struct
import zlib

import numpy as np
import pytest
from service_helpers import encode, load_event, mask_array, photo_array

from holefill.twin.client import HolefillClient
from holefill_service import formats, keys


def huge_png(side=30_000):
    """A valid 1-bit PNG declaring side x side pixels, in about 100 kB: the rows are
    zeros, compressed as they are generated."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + (side + 7) // 8)  # filter byte, then the packed bits
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()

    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


BAD_UPLOADS = {
    "truncated JPEG": (
        lambda: encode(photo_array(), "JPEG")[:-600],
        "image/jpeg",
        lambda: encode(mask_array()),
        422,
        "unreadable_image",
    ),
    "text named .png": (
        lambda: b"this is a text file, named photo.png",
        "image/png",
        lambda: encode(mask_array()),
        415,
        "unsupported_format",
    ),
    # Under the pixel limit (4 MP), over the tiny model's cost budget: the photo's 4 MP
    # and the hole's 2.25 MP come to about 53 s.
    "a job over the cost budget": (
        lambda: encode(np.zeros((2000, 2000), np.uint8)),
        "image/png",
        lambda: encode(np.pad(np.full((1500, 1500), 255, np.uint8), ((0, 500), (0, 500)))),
        413,
        "over_cost_budget",
    ),
    "30000x30000 PNG": (
        huge_png,
        "image/png",
        lambda: encode(mask_array()),
        413,
        "too_many_pixels",
    ),
    # Over the twin's max_pixels (4 MP), far under Pillow's own guard: the setting is applied.
    "2100x2000 PNG": (
        lambda: encode(np.zeros((2000, 2100), np.uint8)),
        "image/png",
        lambda: encode(mask_array()),
        413,
        "too_many_pixels",
    ),
    "mask size mismatch": (
        lambda: encode(photo_array()),
        "image/png",
        lambda: encode(np.full((100, 100), 255, np.uint8)),
        422,
        "mask_size_mismatch",
    ),
    "all-hole mask": (
        lambda: encode(photo_array()),
        "image/png",
        lambda: encode(np.full((120, 160), 255, np.uint8)),
        422,
        "all_hole_mask",
    ),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_fail_their_job_with_a_clear_4xx(client, twin, settings, case):
    photo, photo_type, mask, status, code = BAD_UPLOADS[case]
    photo_key, mask_key, answers = client.upload(photo(), mask(), photo_type)
    assert [answer.status_code for answer in answers] == [204, 204]
    started = client.start_job(photo_key, mask_key)
    assert started.status_code == 202, started.text
    finished = client.wait(started.json()["id"])
    assert finished.status_code == status, finished.text
    assert finished.json()["error"]["code"] == code
    assert finished.json()["status"] == "failed"
    # Nothing uploaded is lost, and the service still serves.
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)
    assert client.request("GET", "/health").status_code == 200


UPLOAD = "uploads/0123456789abcdef0123456789abcdef"
SECRET = {"upload_secret": "not-the-secret"}
BAD_REQUESTS = {
    "job without its secret": (
        "GET",
        "/jobs/0123456789abcdef0123456789abcdef",
        None,
        401,
        "job_secret_required",
    ),
    "no upload secret": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/mask"},
        422,
        "invalid_request",
    ),
    "keys of two uploads": (
        "POST",
        "/jobs",
        {
            "photo_key": f"{UPLOAD}/photo",
            "mask_key": "uploads/fedcba9876543210fedcba9876543210/mask",
            **SECRET,
        },
        422,
        "upload_mismatch",
    ),
    "key outside uploads/": (
        "POST",
        "/jobs",
        {
            "photo_key": "jobs/0123456789abcdef0123456789abcdef.json",
            "mask_key": f"{UPLOAD}/mask",
            **SECRET,
        },
        400,
        "invalid_key",
    ),
    "path traversal in a key": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/../../jobs/x.json", "mask_key": f"{UPLOAD}/mask", **SECRET},
        400,
        "invalid_key",
    ),
    "photo key given as the mask": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/photo", **SECRET},
        400,
        "invalid_key",
    ),
    "upload that does not exist": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/mask", **SECRET},
        404,
        "upload_not_found",
    ),
    "oversized JSON body": (
        "POST",
        "/jobs",
        {"photo_key": "x" * 20_000, "mask_key": "y"},
        413,
        "body_too_large",
    ),
    "oversized body of valid fields": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/mask", "pad": "z" * 20_000},
        413,
        "body_too_large",
    ),
    "malformed JSON body": ("POST", "/jobs", b'{"photo_key": ', 400, "malformed_json"),
    "one uncertainty sample": (
        "POST",
        "/jobs",
        {
            "photo_key": f"{UPLOAD}/photo",
            "mask_key": f"{UPLOAD}/mask",
            "uncertainty": "monte-carlo",
            "uncertainty_samples": 1,
            **SECRET,
        },
        422,
        "invalid_request",
    ),
    "samples without monte-carlo": (
        "POST",
        "/jobs",
        {
            "photo_key": f"{UPLOAD}/photo",
            "mask_key": f"{UPLOAD}/mask",
            "uncertainty_samples": 8,
            **SECRET,
        },
        422,
        "invalid_request",
    ),
    "unknown uncertainty": (
        "POST",
        "/jobs",
        {
            "photo_key": f"{UPLOAD}/photo",
            "mask_key": f"{UPLOAD}/mask",
            "uncertainty": "guess",
            **SECRET,
        },
        422,
        "invalid_request",
    ),
    "negative seed": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/mask", "seed": -1, **SECRET},
        422,
        "invalid_request",
    ),
    "seed past 31 bits": (
        "POST",
        "/jobs",
        {"photo_key": f"{UPLOAD}/photo", "mask_key": f"{UPLOAD}/mask", "seed": 2**31, **SECRET},
        422,
        "invalid_request",
    ),
    "unknown strategy": (
        "POST",
        "/jobs",
        {
            "photo_key": f"{UPLOAD}/photo",
            "mask_key": f"{UPLOAD}/mask",
            "strategy": "magic",
            **SECRET,
        },
        422,
        "invalid_request",
    ),
    "content type not an image": (
        "POST",
        "/uploads",
        {"photo_content_type": "text/html"},
        422,
        "invalid_request",
    ),
    "body not JSON": ("POST", "/uploads", "photo=1", 415, "unsupported_media_type"),
    "wrong method on /jobs": ("DELETE", "/jobs", None, 405, "method_not_allowed"),
    "wrong method on a job": ("POST", "/jobs/0123456789abcdef0123456789abcdef", {}, 405, None),
    "wrong method on /uploads": ("GET", "/uploads", None, 405, "method_not_allowed"),
    "unknown path": ("GET", "/admin", None, 404, "not_found"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_answer_a_clear_4xx(client, case):
    method, path, body, status, code = BAD_REQUESTS[case]
    if isinstance(body, dict):
        response = client.request(method, path, json=body)
    elif isinstance(body, str):
        headers = {"Content-Type": "text/plain"}
        response = client.request(method, path, data=body, headers=headers)
    else:
        response = client.request(
            method, path, data=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status, response.text
    assert set(response.json()) >= {"error"}
    assert response.json()["error"]["code"] == (code or "method_not_allowed")
    assert response.json()["error"]["message"]
    assert client.request("GET", "/health").status_code == 200


def test_the_limits_are_what_uploads_and_jobs_enforce(client, settings):
    """`GET /limits` is what the web app checks a photo against when it is opened: each
    value is the one that the presigned POST and the InpaintFunction apply."""
    limits = client.request("GET", "/limits").json()
    assert (limits["max_bytes"], limits["max_pixels"]) == (
        settings.max_upload_bytes,
        settings.max_pixels,
    )
    assert limits["max_jobs_per_upload"] == settings.max_jobs_per_upload
    published = {entry["content_type"] for entry in limits["formats"]}
    assert published == set(formats.IMAGE_CONTENT_TYPES)
    assert {"image/heic", "image/avif"} <= published
    jpeg = next(entry for entry in limits["formats"] if entry["content_type"] == "image/jpeg")
    assert jpeg == {"content_type": "image/jpeg", "name": "JPEG", "extensions": ["jpg", "jpeg"]}


def test_events_drive_the_api_handler(twin):
    origin = {"Origin": twin.config.origin}

    def call(name, **changes):
        event = load_event(name, **changes)
        event["headers"].update(origin)
        event["multiValueHeaders"].update({"Origin": [twin.config.origin]})
        return twin.api.invoke(event)

    health = call("api-get-health.json")
    assert (health["statusCode"], json.loads(health["body"])) == (200, {"status": "ok"})
    # The REST resolver adds CORS headers only for an Origin in multiValueHeaders.
    assert health["multiValueHeaders"]["Access-Control-Allow-Origin"] == [twin.config.origin]
    upload = call("api-post-uploads.json")
    assert upload["statusCode"] == 201
    assert json.loads(upload["body"])["photo"]["url"].startswith(twin.seaweed.endpoint_url)
    missing = call("api-post-jobs.json")
    assert missing["statusCode"] == 404
    assert call("api-get-job.json")["statusCode"] == 404
    openapi = json.loads(call("api-get-openapi.json")["body"])
    assert set(openapi["paths"]) == {"/uploads", "/jobs", "/jobs/{job_id}", "/limits", "/health"}
    limits = json.loads(call("api-get-limits.json")["body"])
    assert limits["max_bytes"] == twin.config.settings.max_upload_bytes
    parameters = openapi["paths"]["/jobs/{job_id}"]["get"]["parameters"]
    described = [(parameter["name"], parameter["in"]) for parameter in parameters]
    assert (keys.JOB_SECRET_HEADER.lower(), "header") in described, described


@pytest.mark.parametrize(
    "body",
    [b"[" * 5000 + b"]" * 5000, b'{"photo_key": ' + b"9" * 5000 + b"}"],
    ids=["nested 5000 deep", "an integer of 5000 digits"],
)
def test_json_that_python_gives_up_on_is_malformed_not_a_server_error(client, body):
    answer = client.request(
        "POST", "/jobs", data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "malformed_json"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_only_the_owner_of_an_upload_or_a_job_can_use_it(twin, client):
    other = HolefillClient(twin.api_url, origin=twin.config.origin, poll_seconds=0.05)
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    _, own_mask_key, _ = other.upload(encode(photo_array()), encode(mask_array()))
    ((_, stranger_secret),) = other.upload_secrets.items()

    # B cannot start a job on A's photo, with B's secret or with B's own mask.
    refused = other.start_job(photo_key, mask_key, upload_secret=stranger_secret)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "wrong_upload_secret")
    mixed = other.start_job(photo_key, own_mask_key, upload_secret=stranger_secret)
    assert (mixed.status_code, mixed.json()["error"]["code"]) == (422, "upload_mismatch")

    started = client.start_job(photo_key, mask_key)
    assert started.status_code == 202, started.text
    job_id, job_secret = started.json()["id"], started.json()["job_secret"]
    assert client.wait(job_id).json()["status"] == "done"
    # B cannot read A's job: without the secret 401, with a wrong one as if it did not exist.
    assert other.get_job(job_id).status_code == 401
    wrong = other.get_job(job_id, secret="guessed")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (404, "job_not_found")
    assert "result" not in wrong.json()
    assert other.get_job(job_id, secret=job_secret).json()["status"] == "done"


def test_an_upload_starts_a_few_jobs_at_most(client, settings):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    statuses = [
        client.start_job(photo_key, mask_key, uncertainty="none").status_code
        for _ in range(settings.max_jobs_per_upload)
    ]
    assert statuses == [202] * settings.max_jobs_per_upload
    refused = client.start_job(photo_key, mask_key)
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "upload_used_up")
    assert f"{settings.max_jobs_per_upload} jobs" in refused.json()["error"]["message"]
