"""Where things live in S3, and the checks on keys that come from clients.

    uploads bucket   uploads/<upload id>/photo, uploads/<upload id>/mask
    results bucket   jobs/<job id>.json, jobs/by-upload/<upload id>/<n>,
                     results/<job id>/result.<ext>, results/<job id>/uncertainty.png

Ids are random UUIDs as 32 hex digits. A key from a client must be exactly one of the
upload keys that `POST /uploads` hands out: anything else (another prefix, `..`, a
results key) is refused before S3 is asked, so that no request can reach beyond uploads.

Keys and ids are names, not permissions: using an upload takes its secret, and reading a
job takes the job's. Only their SHA-256 digests are stored (on the uploaded objects, in
the job record), and they are compared in constant time.
"""

import hashlib
import hmac
import re
import secrets
import uuid

from holefill_service import formats
from holefill_service.errors import ServiceError

UPLOAD_PARTS = ("photo", "mask")
_ID = "[0-9a-f]{32}"
_UPLOAD_KEY = re.compile(rf"uploads/(?P<upload_id>{_ID})/(?P<part>photo|mask)")
_JOB_ID = re.compile(_ID)
_JOB_KEY = re.compile(rf"jobs/(?P<job_id>{_ID})\.json")


def new_id():
    return uuid.uuid4().hex


# The header that carries a job's secret: a header, so that it never lands in a URL, a
# log line or a browser's history.
JOB_SECRET_HEADER = "X-Job-Secret"


def new_secret():
    return secrets.token_urlsafe(32)


def secret_digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret, digest):
    return bool(secret) and bool(digest) and hmac.compare_digest(secret_digest(secret), digest)


def log_tag(identifier):
    """A short tag that tells an id's log lines apart without revealing the id: whoever
    holds a job id may read its results, so ids never go to logs."""
    return hashlib.sha256(identifier.encode()).hexdigest()[:12]


def upload_key(upload_id, part):
    return f"uploads/{upload_id}/{part}"


def job_key(job_id):
    return f"jobs/{job_id}.json"


def result_key(job_id, content_type):
    return f"results/{job_id}/result.{formats.extension_of(content_type)}"


def uncertainty_key(job_id):
    return f"results/{job_id}/uncertainty.png"


def uncertainty_data_key(job_id):
    """The map's values as a 16-bit greyscale PNG, written beside the coloured one."""
    return f"results/{job_id}/uncertainty-data.png"


def upload_use_key(upload_id, use):
    return f"jobs/by-upload/{upload_id}/{use}"


def upload_id_of(key):
    """The upload id of an upload key that `check_upload_key` accepted."""
    return _UPLOAD_KEY.fullmatch(key)["upload_id"]


def check_upload_key(key, part):
    """Returns `key` if it is an upload key of `part` ("photo" or "mask").

    Raises:
        ServiceError: 400 "invalid_key" for anything else.
    """
    match = _UPLOAD_KEY.fullmatch(key)
    if match is None or match["part"] != part:
        shown = key if len(key) <= 80 else key[:80] + "..."
        raise ServiceError(
            400,
            "invalid_key",
            f"{part}_key must be the key that POST /uploads returned for the {part} "
            f"(uploads/<upload id>/{part}), got {shown!r}",
        )
    return key


def is_job_id(text):
    return _JOB_ID.fullmatch(text) is not None


def job_id_of_key(key):
    """The job id of a job record's key, or None for any other key."""
    match = _JOB_KEY.fullmatch(key)
    return match["job_id"] if match else None
