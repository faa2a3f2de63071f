"""The Lambda handlers against a real S3 (SeaweedFS), through the local twin: the whole flow
from upload to result, and what S3 itself refuses or keeps closed: uploads too large, empty,
of another type or key, expired or forged, form fields that the presigned POST's policy does
not name, another origin's CORS preflight, and the servers behind S3."""

import dataclasses
import datetime
import io
import json
import re
import socket
import ssl
import stat
import time

import numpy as np
import pytest
import requests
from PIL import Image
from service_helpers import encode, mask_array, photo_array

from holefill.twin.client import post_file
from holefill_service import keys, storage
from holefill_service.jobs import now_utc


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
