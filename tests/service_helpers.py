"""What the service's tests share (tests/test_service_*.py, and those of the twin's faults
and of the deployment packages): photos and masks encoded as uploads, the events in
`events/`, and job records queued without the API. The twin's `client` and `settings`
fixtures are in conftest.py."""

import datetime
import io
import json

import numpy as np
from PIL import Image

from holefill.twin.functions import REPO_ROOT
from holefill_service import keys
from holefill_service.job_queue import message_body
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
