"""The Lambda handlers against a real S3 (SeaweedFS), through the local twin and directly
with the events in `events/`: the whole flow, what S3 itself refuses, bad input, and jobs
whose worker dies."""

import collections
import contextlib
import dataclasses
import datetime
import hashlib
import io
import json
import os
import re
import signal
import socket
import ssl
import stat
import struct
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from holefill.twin.client import HolefillClient, post_file
from holefill.twin.functions import REPO_ROOT, LambdaContext, load_function
from holefill_service import formats, keys, storage
from holefill_service.job_queue import JobQueue, message_body
from holefill_service.jobs import Job, JobStatus, JobStore, now_utc

EVENTS = REPO_ROOT / "events"


def encode(array, image_format="PNG", **options):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=image_format, **options)
    return buffer.getvalue()


def photo_array(height=120, width=160):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 2, columns, (rows + columns) % 256], axis=2).astype(np.uint8)


def mask_array(height=120, width=160):
    holes = np.zeros((height, width), np.uint8)
    holes[height // 4 : height // 2, width // 4 : width // 2] = 255
    return holes


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


@pytest.fixture(scope="module")
def client(twin):
    return HolefillClient(twin.api_url, origin=twin.config.origin)


@pytest.fixture(scope="module")
def settings(twin):
    return twin.config.settings


def load_event(name, **changes):
    event = json.loads((EVENTS / name).read_text())
    event.update(changes)
    return event


def queue_event(name, job_id):
    """An SQS event of `events/` whose one message names `job_id`."""
    event = load_event(name)
    (record,) = event["Records"]
    record["body"] = message_body(job_id)
    return event


def test_whole_flow_upload_job_result(client, twin):
    exif = Image.Exif()
    exif[0x010F] = "Holefill test camera"  # Make
    photo = encode(photo_array(), "JPEG", quality=95, exif=exif.tobytes())
    photo_key, mask_key, answers = client.upload(photo, encode(mask_array()), "image/jpeg")
    assert [answer.status_code for answer in answers] == [204, 204]

    started = client.start_job(photo_key, mask_key)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued"
    assert started.headers["Access-Control-Allow-Origin"] == twin.config.origin
    done = client.wait(started.json()["id"])
    assert done.status_code == 200, done.text
    job = done.json()
    assert job["status"] == "done"
    assert job["result"]["content_type"] == "image/jpeg"
    assert (job["result"]["strategy"], job["result"]["fill"]) == ("crop", "synthesis")

    result = Image.open(io.BytesIO(requests.get(job["files"]["result"], timeout=10).content))
    assert (result.format, result.size) == ("JPEG", (160, 120))
    assert result.getexif()[0x010F] == "Holefill test camera"
    # The model's card offers the error map: "auto" gives it, with what its colours mean.
    uncertainty = job["result"]["uncertainty"]
    assert uncertainty["method"] == "error-map" and uncertainty["full_scale"] == 0.2
    assert "expected absolute error" in uncertainty["unit"]
    heatmap = Image.open(io.BytesIO(requests.get(job["files"]["uncertainty"], timeout=10).content))
    assert (heatmap.format, heatmap.mode, heatmap.size) == ("PNG", "RGBA", (160, 120))
    alpha = np.asarray(heatmap)[..., 3]
    assert alpha[mask_array() > 0].min() == 255, "opaque over every hole pixel"
    assert alpha[0, 0] == 0, "transparent over the known pixels"


def test_a_map_the_card_does_not_offer_fails_the_job_with_its_reason(client):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    started = client.start_job(photo_key, mask_key, uncertainty="monte-carlo")
    assert started.status_code == 202, started.text
    failed = client.wait(started.json()["id"])
    assert failed.status_code == 422, failed.text
    error = failed.json()["error"]
    assert error["code"] == "uncertainty_unavailable"
    assert "does not offer the monte-carlo" in error["message"]
    assert "Spearman" in error["message"], "the card's reason"
    without = client.inpaint(encode(photo_array()), encode(mask_array()), uncertainty="none")
    done = without.json()
    assert done["status"] == "done" and done["result"]["uncertainty"] is None
    assert done["files"]["uncertainty"] is None and done["files"]["uncertainty_data"] is None


@pytest.mark.parametrize("region", ["eu-west-1", "ap-south-2", "us-east-1"])
def test_on_aws_presigned_urls_name_the_buckets_regional_endpoint(settings, monkeypatch, region):
    """The global endpoint answers a bucket outside us-east-1 with a 307 until DNS
    settles (and never works in opt-in regions): the browser's upload cannot follow it."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_REGION", region)
    s3 = storage.s3_client()
    regional = f"https://bucket.s3.{region}.amazonaws.com/"
    assert s3.generate_presigned_post("bucket", "uploads/a/photo")["url"] == regional
    download = s3.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "k"})
    assert download.startswith(regional + "k?")


def test_upload_over_the_size_limit_is_refused_by_s3(client, settings):
    upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"}).json()
    answer = post_file(upload["photo"], bytes(settings.max_upload_bytes + 1), "image/png")
    assert answer.status_code == 400
    assert "EntityTooLarge" in answer.text


def test_zero_byte_upload_is_refused_by_s3(client):
    upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"}).json()
    answer = post_file(upload["photo"], b"", "image/png")
    assert answer.status_code == 400
    # And a job on it finds nothing there.
    job = client.start_job(
        upload["photo"]["key"], upload["mask"]["key"], upload_secret=upload["upload_secret"]
    )
    assert (job.status_code, job.json()["error"]["code"]) == (404, "upload_not_found")


def test_upload_with_another_content_type_is_refused_by_s3(client):
    upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"}).json()
    presigned = dict(upload["photo"], fields={**upload["photo"]["fields"]})
    presigned["fields"]["Content-Type"] = "text/html"
    answer = post_file(presigned, b"<script>alert(1)</script>", "text/html")
    assert answer.status_code == 403
    assert "Policy" in answer.text


def test_upload_to_another_key_is_refused_by_s3(client):
    upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"}).json()
    presigned = dict(upload["photo"], fields={**upload["photo"]["fields"]})
    presigned["fields"]["key"] = "jobs/forged.json"
    assert post_file(presigned, b"{}", "image/png").status_code == 403


def test_upload_after_expiry_is_refused_by_s3(twin, settings):
    # The API's own presigning, with a one-second expiry.
    short = dataclasses.replace(settings, upload_expiry_seconds=1)
    key = keys.upload_key(keys.new_id(), "photo")
    digest = keys.secret_digest("s")
    presigned = storage.presigned_upload(twin.seaweed.client(), short, key, "image/png", digest)
    time.sleep(2.5)
    answer = post_file(presigned, encode(photo_array()), "image/png")
    assert answer.status_code == 403
    assert "expired" in answer.text


def test_forged_signatures_are_refused_by_s3(twin, client, settings):
    upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"}).json()
    presigned = dict(upload["photo"], fields={**upload["photo"]["fields"]})
    presigned["fields"]["x-amz-signature"] = "0" * 64
    assert post_file(presigned, encode(photo_array()), "image/png").status_code == 403

    # A download URL signed with another secret, and one whose signature was edited.
    forger = twin.seaweed.client(secret_key="not-the-secret")
    forged_settings = dataclasses.replace(settings, results_bucket=settings.uploads_bucket)
    forged = storage.presigned_download(forger, forged_settings, upload["photo"]["key"])
    assert requests.get(forged, timeout=10).status_code == 403
    honest = storage.presigned_download(twin.seaweed.client(), forged_settings, "x")
    edited = honest[:-4] + ("0000" if not honest.endswith("0000") else "1111")
    assert requests.get(edited, timeout=10).status_code == 403


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


QUEUED_SECRET = "the secret of queued_job"


def queued_job(twin, photo_key, mask_key, deadline_seconds=60, store=None):
    """A job record in the queued state, never invoked, that `QUEUED_SECRET` reads."""
    now = now_utc()
    job = Job(
        id=keys.new_id(),
        status=JobStatus.QUEUED,
        photo_key=photo_key,
        mask_key=mask_key,
        secret_sha256=keys.secret_digest(QUEUED_SECRET),
        strategy="auto",
        uncertainty="none",
        created_at=now,
        updated_at=now,
        deadline=now + datetime.timedelta(seconds=deadline_seconds),
    )
    store = store or JobStore(twin.seaweed.client(), twin.config.settings.results_bucket)
    store.create(job)
    return job, store


def test_inpaint_event_runs_a_job_once(twin, client, tiny_model, monkeypatch):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job, store = queued_job(twin, photo_key, mask_key)
    monkeypatch.setenv("HOLEFILL_MODEL_DIR", str(tiny_model))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "holefill-inpaint")
    inpaint = load_function("inpaint")
    event = queue_event("inpaint.json", job.id)
    context = LambdaContext("InpaintFunction")

    assert inpaint.handler(event, context) == [JobStatus.DONE]
    done, _ = store.load(job.id)
    assert done.result_key == keys.result_key(job.id, "image/png") == f"results/{job.id}/result.png"
    # SQS may deliver a message twice: the second delivery leaves the job alone.
    assert inpaint.handler(event, context) == [JobStatus.DONE]
    assert store.load(job.id)[0].updated_at == done.updated_at


def test_a_job_past_its_deadline_fails_and_keeps_the_upload(twin, client, settings):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job, _ = queued_job(twin, photo_key, mask_key, deadline_seconds=-1)
    response = client.get_job(job.id, secret=QUEUED_SECRET)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "inpainting_timed_out"
    assert response.json()["status"] == "failed"
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)


def test_a_worker_killed_mid_job_fails_the_job_and_the_next_job_runs(twin, client, settings):
    # Thin strokes over a large photo, tiled at 64 px, diffused and mapped: seconds of work
    # for the tiny model, so the worker is surely killed in the middle.
    photo = encode(photo_array(1200, 1200))
    strokes = np.zeros((1200, 1200), np.uint8)
    strokes[::40] = 255
    photo_key, mask_key, _ = client.upload(photo, encode(strokes))
    started = client.start_job(photo_key, mask_key, strategy="tile")
    job_id = started.json()["id"]
    store = JobStore(twin.seaweed.client(), settings.results_bucket)
    deadline = time.monotonic() + 30
    while store.load(job_id)[0].status == JobStatus.QUEUED:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    # Nobody reads the job: the message, back after the visibility timeout, fails it.
    while store.load(job_id)[0].status == JobStatus.RUNNING:
        assert time.monotonic() - killed < twin.config.queue_visibility_seconds + 5
        time.sleep(0.1)
    assert time.monotonic() - killed > settings.job_deadline_seconds - 1
    failed = client.wait(job_id, timeout=1)
    assert failed.status_code == 504, failed.text
    assert failed.json()["error"]["code"] == "inpainting_timed_out"
    assert "the photo and mask are kept" in failed.json()["error"]["message"]
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)
    # A new execution environment takes the next job, with the same uploads if need be.
    again = client.inpaint(encode(photo_array()), encode(mask_array()))
    assert again.json()["status"] == "done", again.text


def test_an_idle_worker_that_dies_is_replaced_and_takes_the_next_job(twin, client):
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while twin.inpaint_function.worker_pids() in ([pid], []):
        assert time.monotonic() < deadline, "the dead environment was not replaced"
        time.sleep(0.1)
    started = time.monotonic()
    done = client.inpaint(encode(photo_array()), encode(mask_array()))
    assert done.json()["status"] == "done", done.text
    assert time.monotonic() - started < 10


def test_health_says_ready_only_once_a_new_worker_can_take_a_job(twin, client):
    """A replacement environment is alive a second or more before its init phase (the
    model's load) ends: `/health` says 503 until then. When it says 200, the new
    environment has the model loaded (mapped into its memory)."""
    # A job run to the end first: nothing that earlier tests queued is left ahead.
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    assert (
        client.wait(client.start_job(photo_key, mask_key).json()["id"]).json()["status"] == "done"
    )
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while twin.inpaint_function.worker_pids() in ([pid], []):  # the replacement starts
        assert time.monotonic() < deadline, "the dead environment was not replaced"
        time.sleep(0.01)
    while (health := client.request("GET", "/health")).status_code != 200:
        assert health.json()["error"]["code"] == "inpainting_unavailable", health.text
        assert time.monotonic() < deadline, "no environment became ready"
    (replacement,) = twin.inpaint_function.worker_pids()
    assert replacement != pid
    mapped = Path(f"/proc/{replacement}/maps").read_text()
    assert ".tflite" in mapped, "healthy before the environment had loaded the model"
    job_id = client.start_job(photo_key, mask_key).json()["id"]
    assert client.wait(job_id).json()["status"] == "done"


def test_health_says_when_no_worker_runs(twin, client, monkeypatch):
    assert client.request("GET", "/health").status_code == 200
    monkeypatch.setattr(twin.inpaint_function, "unavailable_workers", lambda: 1)
    down = client.request("GET", "/health")
    assert (down.status_code, down.json()["error"]["code"]) == (503, "inpainting_unavailable")
    assert "1 of 1 inpainting workers" in down.json()["error"]["message"]
    assert down.headers["Retry-After"] == "5"


def test_the_dead_letters_fail_an_unfinished_job_only(twin, client, settings):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    failed_function = load_function("failed")
    context = LambdaContext("JobFailedFunction")
    store = JobStore(twin.seaweed.client(), settings.results_bucket)
    queued, _ = queued_job(twin, photo_key, mask_key)
    running, _ = queued_job(twin, photo_key, mask_key)
    store.replace(running.started(now_utc(), 60), store.load(running.id)[1])
    late, _ = queued_job(twin, photo_key, mask_key, deadline_seconds=-1)
    cases = {
        "queued": (queued, 503, "inpainting_unavailable"),
        "running": (running, 500, "inpainting_failed"),
        "past its deadline": (late, 504, "inpainting_timed_out"),
    }
    for case, (job, status, code) in cases.items():
        event = queue_event("failed.json", job.id)
        assert failed_function.handler(event, context) == [JobStatus.FAILED], case
        failed, _ = store.load(job.id)
        assert (failed.error.http_status, failed.error.code) == (status, code), case
        assert "the photo and mask are kept" in failed.error.message
        # The same dead letter again, or one of a job that finished, changes nothing.
        assert failed_function.handler(event, context) == [JobStatus.FAILED]
        assert store.load(job.id)[0].updated_at == failed.updated_at
    unknown = queue_event("failed.json", keys.new_id())
    assert failed_function.handler(unknown, context) == [None]


def test_a_message_no_delivery_takes_goes_to_the_dead_letters_after_three(twin, monkeypatch):
    """A job whose record cannot be read raises in every delivery: SQS hands the message
    out again after each visibility timeout, then to the dead letters' function."""
    dead = []
    monkeypatch.setattr(twin.inpaint_function, "on_dead_letter", dead.append)
    sent = time.monotonic()
    twin.inpaint_function.send(message_body(keys.new_id()))
    visibility = twin.config.queue_visibility_seconds
    while not dead:
        assert time.monotonic() - sent < 2 * visibility + 10, "never dead-lettered"
        time.sleep(0.1)
    assert time.monotonic() - sent > 2 * visibility - 1, "redelivered before its time"
    (record,) = dead[0]["Records"]
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["eventSourceARN"].endswith(":holefill-jobs-dead-letters")


def test_the_twins_queue_answers_as_sqs_does(twin):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_SQS", twin.inpaint_function.endpoint_url)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        queue = JobQueue(twin.inpaint_function.queue_url)
        elsewhere = JobQueue(twin.inpaint_function.queue_url + "-not-there", client=queue.client)
    # A job that does not exist: its deliveries end in the dead letters, which drop it.
    body = message_body(keys.new_id())
    answer = queue.client.send_message(QueueUrl=queue.queue_url, MessageBody=body)
    assert answer["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    with pytest.raises(queue.client.exceptions.QueueDoesNotExist):
        elsewhere.start(keys.new_id())


def raw_request(twin, data, timeout=5):
    """Sends `data` on a fresh connection; the answer's status line and headers, as text."""
    host, port = twin.gateway.server_address
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_the_gateway_refuses_bodies_it_cannot_delimit(twin):
    post = b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    started = time.monotonic()
    assert raw_request(twin, post + b"Content-Length: -1\r\n\r\n{}").startswith("HTTP/1.1 400")
    assert raw_request(twin, post + b"Content-Length: abc\r\n\r\n{}").startswith("HTTP/1.1 400")
    superscript = post + "Content-Length: \u00b2\r\n\r\n{}".encode("latin-1")
    assert raw_request(twin, superscript).startswith("HTTP/1.1 400")
    nul = b"GET /%00index.html HTTP/1.1\r\nHost: x\r\n\r\n"
    assert raw_request(twin, nul).startswith("HTTP/1.1 400")
    chunked = (
        post + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /api/health HTTP/1.1"
    )
    answer = raw_request(twin, chunked)
    assert answer.startswith("HTTP/1.1 411") and "Connection: close" in answer
    assert time.monotonic() - started < 5, "none of them may hang"


def test_idle_and_trickling_connections_are_cut_off(twin):
    """Each connection holds a thread: one that sends nothing, or a byte now and then,
    is closed once `request_seconds` have passed without a whole request."""
    host, port = twin.gateway.server_address
    connections = [socket.create_connection((host, port), timeout=10) for _ in range(30)]
    started = time.monotonic()

    def trickle(connection):
        with contextlib.suppress(OSError):
            for byte in b"GET /api/health HTTP/1.1\r\nX-Padding: " + b"x" * 100:
                connection.sendall(bytes([byte]))
                time.sleep(0.25)

    threading.Thread(target=trickle, args=(connections[0],), daemon=True).start()
    for connection in connections:
        with connection:
            try:
                closed = connection.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed, "the connection was answered without a whole request"
    seconds = time.monotonic() - started
    assert seconds < twin.config.request_seconds + 3, f"closed after {seconds:.1f} s"
    assert requests.get(twin.api_url + "/limits", timeout=5).status_code == 200


def test_a_hung_s3_is_answered_within_seconds_and_holds_up_nothing_else(twin, client):
    """SeaweedFS stopped mid-flight (it accepts connections, then never answers): every
    route that needs S3 says so within 10 s, while the others answer at once."""
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job = client.start_job(photo_key, mask_key).json()
    client.wait(job["id"])
    needs_s3 = {
        "health": lambda: client.request("GET", "/health"),
        "job": lambda: client.get_job(job["id"]),
        "new job": lambda: client.start_job(photo_key, mask_key),
    }
    answers, seconds = {}, {}

    def call(name, request):
        started = time.monotonic()
        answers[name] = request()
        seconds[name] = time.monotonic() - started

    os.kill(twin.seaweed.process.pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=call, args=item) for item in needs_s3.items()]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # all three are waiting on S3 now
        call("limits", lambda: client.request("GET", "/limits"))
        call("web app", lambda: requests.get(twin.url + "/config.json", timeout=5))
        for thread in threads:
            thread.join(timeout=30)
    finally:
        os.kill(twin.seaweed.process.pid, signal.SIGCONT)
    assert answers["limits"].status_code == answers["web app"].status_code == 200
    assert seconds["limits"] < 2 and seconds["web app"] < 2, seconds
    for name in needs_s3:
        assert answers[name].status_code == 503, (name, answers[name].text)
        assert answers[name].json()["error"]["code"] == "storage_unavailable"
        assert answers[name].headers["Retry-After"].isdigit()
        assert seconds[name] < 10, (name, seconds)
    assert client.request("GET", "/health").status_code == 200


def test_the_servers_behind_s3_are_closed_to_other_local_users(twin, client, settings):
    """Only the S3 port, with the identity, is for others: the filer's HTTP port (which
    lists, serves and deletes every object) wants a JWT, each gRPC port mutual TLS with
    the twin's certificate, and the data folder is the owner's."""
    photo_key, _, _ = client.upload(encode(photo_array()), encode(mask_array()))
    arguments = " ".join(twin.seaweed.process.args)
    filer = "http://127.0.0.1:" + re.search(r"-filer\.port=(\d+)", arguments)[1]
    bucket = f"/buckets/{settings.uploads_bucket}/"
    for method, path in [
        ("GET", bucket),
        ("GET", bucket + photo_key),
        ("DELETE", bucket + photo_key),
    ]:
        answer = requests.request(method, filer + path, timeout=5)
        assert answer.status_code == 401, (method, path, answer.status_code)
    grpc_ports = re.findall(r"-(\w+)\.port\.grpc=(\d+)", arguments)
    assert {name for name, _ in grpc_ports} >= {"master", "volume", "filer", "s3"}
    outsider = ssl.create_default_context()
    outsider.check_hostname, outsider.verify_mode = False, ssl.CERT_NONE
    outsider.set_alpn_protocols(["h2"])
    for name, port in grpc_ports:
        # Under TLS 1.3 the refusal of a client without a certificate comes on reading.
        with (
            socket.create_connection(("127.0.0.1", int(port)), timeout=5) as connection,
            pytest.raises((ssl.SSLError, ConnectionError)),
            outsider.wrap_socket(connection) as secured,
        ):
            secured.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            if not secured.recv(1):
                raise ConnectionResetError(f"{name} closed the connection")
    assert stat.S_IMODE(twin.seaweed.data_dir.stat().st_mode) == 0o700
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)


def test_config_names_the_twin_whatever_the_host_header(twin):
    answer = requests.get(twin.url + "/config.json", headers={"Host": "evil.example"}, timeout=5)
    assert answer.json() == {"apiUrl": twin.api_url}
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


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


def test_the_presigned_post_policy_holds_exactly_the_intended_conditions(twin, settings):
    import base64

    s3 = twin.seaweed.client()
    key = keys.upload_key(keys.new_id(), "photo")
    digest = keys.secret_digest("s")
    presigned = storage.presigned_upload(s3, settings, key, "image/jpeg", digest)
    policy = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    expires = datetime.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    remaining = (expires - now_utc()).total_seconds()
    assert settings.upload_expiry_seconds - 60 < remaining <= settings.upload_expiry_seconds
    conditions = [
        condition
        for condition in policy["conditions"]
        if not (isinstance(condition, dict) and next(iter(condition)).startswith("x-amz-"))
        or "x-amz-meta-" in next(iter(condition))
    ]
    assert conditions == [
        {"Content-Type": "image/jpeg"},
        {"x-amz-meta-secret-sha256": digest},
        ["content-length-range", 1, settings.max_upload_bytes],
        {"bucket": settings.uploads_bucket},
        {"key": key},
    ]
    # Every form field but the signature's own is one the policy names.
    signed = {"policy", "x-amz-signature", "x-amz-algorithm", "x-amz-credential", "x-amz-date"}
    named = {
        next(iter(condition)) for condition in policy["conditions"] if isinstance(condition, dict)
    }
    assert set(presigned["fields"]) - signed <= named


EXTRA_FIELDS = {
    "acl": "public-read",
    "success_action_redirect": "https://evil.example/",
    "Cache-Control": "max-age=31536000",
    "Content-Disposition": "attachment; filename=evil.html",
    "tagging": "<Tagging></Tagging>",
}


@pytest.mark.parametrize("field", EXTRA_FIELDS)
def test_a_post_field_the_policy_does_not_name_is_refused_as_s3_refuses_it(twin, settings, field):
    s3 = twin.seaweed.client()
    key = keys.upload_key(keys.new_id(), "photo")
    presigned = storage.presigned_upload(s3, settings, key, "image/png", keys.secret_digest("s"))
    extra = {**presigned, "fields": {**presigned["fields"], field: EXTRA_FIELDS[field]}}
    refused = post_file(extra, encode(photo_array()), "image/png")
    assert refused.status_code == 403, refused.text
    assert "<Code>AccessDenied</Code>" in refused.text
    assert f"Extra input fields: {field.lower()}" in refused.text
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=settings.uploads_bucket, Key=key)
    # S3 takes fields named x-ignore-*, and the presigned POST as it is.
    ignored = {**presigned, "fields": {**presigned["fields"], "x-ignore-note": "anything"}}
    assert post_file(ignored, encode(photo_array()), "image/png").status_code == 204


def test_a_cors_preflight_from_another_origin_is_refused_not_dropped(twin, settings):
    url = f"{twin.seaweed.endpoint_url}/{settings.uploads_bucket}"
    asked = {"Access-Control-Request-Method": "POST"}
    refused = requests.options(url, headers={**asked, "Origin": "https://evil.example"}, timeout=5)
    assert refused.status_code == 403 and "<Code>AccessForbidden</Code>" in refused.text
    allowed = requests.options(url, headers={**asked, "Origin": twin.config.origin}, timeout=5)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == twin.config.origin


def raw_get(twin, path, source):
    """`GET path` from the address `source` (any of 127.0.0.0/8): its status and headers."""
    host, port = twin.gateway.server_address
    with socket.create_connection((host, port), timeout=5, source_address=(source, 0)) as raw:
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    status = int(head.split()[1])
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    return status, headers, body


def test_concurrent_requests_each_get_their_own_answer(twin, client):
    """The ApiFunction's environments serve at once, each with state of its own (Powertools'
    resolver keeps the current event on a class): no request sees another's headers."""
    jobs = []
    for _ in range(3):
        photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
        jobs.append(client.start_job(photo_key, mask_key).json())
    answers = collections.Counter()

    def poll(job):
        session = requests.Session()
        for _ in range(40):
            answer = session.get(
                f"{twin.api_url}/jobs/{job['id']}",
                headers={keys.JOB_SECRET_HEADER: job["job_secret"]},
                timeout=30,
            )
            answers[(answer.status_code, answer.json().get("id") == job["id"])] += 1

    threads = [threading.Thread(target=poll, args=(job,)) for job in jobs * 2]
    # Threads of this process (the gateway's among them) switch often: a state shared
    # between requests would show.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert answers == {(200, True): 240}, answers


def test_the_twin_throttles_as_the_stack_does(twin, client, monkeypatch):
    """Each address by the WAF rule's numbers, then every client together by the stage's,
    as `template.yaml` sets them."""
    from holefill.twin import gateway

    template = (REPO_ROOT / "template.yaml").read_text()
    assert float(re.search(r"ThrottlingRateLimit: (\d+)", template)[1]) == gateway.DEFAULT_RATE
    assert int(re.search(r"ThrottlingBurstLimit: (\d+)", template)[1]) == gateway.DEFAULT_BURST
    waf = re.search(r"PerIpRequestsPer5Minutes:\n(?:\s+\w+:.*\n)*?\s+Default: (\d+)", template)
    assert int(waf[1]) == gateway.PER_CLIENT_REQUESTS
    assert gateway.PER_CLIENT_SECONDS == 300
    assert f'Value: "{gateway.PER_CLIENT_RETRY_AFTER}"' in template

    monkeypatch.setattr(twin.gateway, "per_client", gateway.PerClientLimit(requests=2, seconds=60))
    answers = [raw_get(twin, "/api/health", "127.0.0.2") for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert json.loads(answers[2][2])["error"]["code"] == "too_many_requests"
    assert answers[2][1]["Retry-After"] == str(gateway.PER_CLIENT_RETRY_AFTER)
    # Another address is not held up by the first one's requests.
    assert raw_get(twin, "/api/health", "127.0.0.3")[0] == 200

    monkeypatch.setattr(twin.gateway, "per_client", None)
    # A token every 2 s, so that none comes back while the three requests are answered.
    monkeypatch.setattr(twin.gateway, "throttle", gateway.StageThrottle(rate=0.5, burst=2))
    sources = ("127.0.0.4", "127.0.0.5", "127.0.0.6")
    answers = [raw_get(twin, "/api/health", source) for source in sources]
    assert [status for status, _, _ in answers] == [200, 200, 429], "the stage's is for all"
    assert 1 <= int(answers[2][1]["Retry-After"]) <= 2
    # The client waits as told and gets through.
    started = time.monotonic()
    assert client.request("GET", "/health").status_code == 200
    assert time.monotonic() - started < 8
