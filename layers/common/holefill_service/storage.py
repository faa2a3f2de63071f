"""S3: the client, presigned uploads and downloads, and the checks on uploaded objects.

Photos never pass through the API (API Gateway takes 10 MB at most): the browser posts
them straight to S3 with a presigned POST whose policy S3 itself enforces: the key, the
content type, the size range and the upload secret's digest, which S3 keeps as the
object's metadata for `POST /jobs` to check. The client is configured by the standard AWS
variables, so the local twin points it at SeaweedFS with `AWS_ENDPOINT_URL_S3`.
"""

import contextlib

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from holefill_service import keys
from holefill_service.errors import ServiceError

# An S3 (or the job queue) that does not answer is said so within 10 s (two tries of at
# most 4 s and the backoff between), well inside API Gateway's 29 s, not after botocore's
# minute: the first call that cannot be answered ends the request with
# `storage_unavailable`.
AWS_CLIENT_TIMEOUTS = {
    "connect_timeout": 2,
    "read_timeout": 4,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}
# How long a client should wait before retrying when S3 cannot be reached.
RETRY_AFTER_SECONDS = 10


def s3_client(custom_endpoint=False):
    """The S3 client of the handlers. On AWS, buckets are addressed at their regional
    virtual-hosted endpoint (`https://<bucket>.s3.<region>.amazonaws.com/`): the global
    one answers a new bucket outside us-east-1 with a 307 that the web app's upload
    cannot follow, and never works in opt-in regions. An S3-compatible server of its own
    (`custom_endpoint`: the twin's SeaweedFS) is addressed by path."""
    addressing = {"addressing_style": "path" if custom_endpoint else "virtual"}
    # us-east-1 too, so that every region's URLs have one form.
    addressing["us_east_1_regional_endpoint"] = "regional"
    # Signature version 4 everywhere: presigned POSTs need it, and SeaweedFS checks it.
    config = Config(signature_version="s3v4", s3=addressing, **AWS_CLIENT_TIMEOUTS)
    return boto3.client("s3", config=config)


def storage_unavailable():
    return ServiceError(
        503,
        "storage_unavailable",
        f"photo storage cannot be reached just now; try again in {RETRY_AFTER_SECONDS} s",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def check_reachable(s3, settings):
    """Raises `storage_unavailable()` unless both buckets answer (a missing key is an
    answer: this needs no permission beyond what the functions have)."""
    for bucket in (settings.uploads_bucket, settings.results_bucket):
        try:
            s3.head_object(Bucket=bucket, Key="jobs/health-check")
        except ClientError as error:
            if error.response["Error"]["Code"] not in MISSING_KEY_CODES:
                raise storage_unavailable() from error
        except BotoCoreError as error:
            raise storage_unavailable() from error


# What S3 answers for a key that does not exist: 404, or 403 to a role that may not list
# the bucket (the stack grants ListBucket, so 403 is the fallback of a narrower policy).
MISSING_KEY_CODES = ("404", "NoSuchKey", "403", "AccessDenied")
# The metadata field of an uploaded object that holds its upload secret's digest.
SECRET_METADATA = "secret-sha256"


def upload_policy(settings, content_type, secret_digest):
    """The presigned POST's form fields and policy conditions (besides the bucket and key):
    exactly these, as S3 refuses any field that no condition names."""
    fields = {"Content-Type": content_type, f"x-amz-meta-{SECRET_METADATA}": secret_digest}
    conditions = [{name: value} for name, value in fields.items()]
    conditions.append(["content-length-range", 1, settings.max_upload_bytes])
    return fields, conditions


def presigned_upload(s3, settings, key, content_type, secret_digest):
    """A presigned POST for one object: `{"url", "fields"}` to send as a multipart form.

    S3 refuses the upload unless the key is `key`, the `Content-Type` field is
    `content_type`, the secret digest is `secret_digest` and the file has 1 to
    `settings.max_upload_bytes` bytes, or after `settings.upload_expiry_seconds`.
    """
    fields, conditions = upload_policy(settings, content_type, secret_digest)
    return s3.generate_presigned_post(
        settings.uploads_bucket,
        key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=settings.upload_expiry_seconds,
    )


def presigned_download(s3, settings, key):
    return s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.results_bucket, "Key": key},
        ExpiresIn=settings.download_expiry_seconds,
    )


def check_upload(s3, settings, key, secret):
    """Checks that an uploaded object exists, was uploaded with `secret` and is within the
    limits; returns its size.

    Raises:
        ServiceError: 404 "upload_not_found", 403 "wrong_upload_secret", 422
            "empty_file", 413 "file_too_large".
    """
    with _upload_not_found(key):
        head = s3.head_object(Bucket=settings.uploads_bucket, Key=key)
    if not keys.secret_matches(secret, head.get("Metadata", {}).get(SECRET_METADATA)):
        raise ServiceError(
            403,
            "wrong_upload_secret",
            f"{key} was not uploaded with this upload_secret: start a job with the secret "
            "that POST /uploads returned with the key",
        )
    return _check_size(settings, key, head["ContentLength"])


def read_upload(s3, settings, key):
    """The bytes of an uploaded object, read only once its size is known to be within the
    limits (it may have been replaced since `check_upload`); raises as `check_upload`."""
    with _upload_not_found(key):
        response = s3.get_object(Bucket=settings.uploads_bucket, Key=key)
    try:
        _check_size(settings, key, response["ContentLength"])
        return response["Body"].read()
    finally:
        response["Body"].close()


@contextlib.contextmanager
def _upload_not_found(key):
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] not in MISSING_KEY_CODES:
            raise
        raise ServiceError(
            404,
            "upload_not_found",
            f"nothing was uploaded to {key}: post the file with the form that POST /uploads "
            "returned (uploads expire after a while: ask for a new one)",
        ) from error


def _check_size(settings, key, size):
    if size == 0:
        raise ServiceError(422, "empty_file", f"the file at {key} is empty (0 bytes)")
    if size > settings.max_upload_bytes:
        raise ServiceError(
            413,
            "file_too_large",
            f"the file at {key} has {size} bytes; the limit is {settings.max_upload_bytes}",
        )
    return size
