"""InpaintFunction: runs one job, delivered by the job queue's event source (an SQS event
with one message, `{"job_id": ...}`).

The model loads once, at module scope, when Lambda starts the execution environment (the
container image has it baked in); every invocation then reads the photo and mask from
the uploads bucket, inpaints, writes the result (same format as the photo, EXIF kept) and
the uncertainty map to the results bucket, and records the outcome in the job record.

Uploads are only read, never moved or deleted, so a failed job loses nothing: the same
keys can start a new job. This module is the Lambda edge: it alone reads the environment.
"""

import contextlib
import os
import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from PIL import Image

from holefill import Inpainter
from holefill.card import read_card
from holefill.errors import InvalidInputError
from holefill.imaging.photos import Limits
from holefill.inference.cost import CostModel
from holefill_service import keys, storage
from holefill_service.errors import ServiceError
from holefill_service.job_queue import job_ids
from holefill_service.jobs import (
    JobConflictError,
    JobResult,
    JobStatus,
    JobStore,
    UncertaintyResult,
    now_utc,
)
from holefill_service.settings import Settings

# The share of the environment's memory that a job's estimate may take.
MEMORY_SHARE = 0.85
settings = Settings.from_environment(os.environ)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
s3 = storage.s3_client(custom_endpoint="AWS_ENDPOINT_URL_S3" in os.environ)
job_store = JobStore(s3, settings.results_bucket)
model_dir = os.environ["HOLEFILL_MODEL_DIR"]
cost = CostModel.from_card(read_card(model_dir))
if cost is not None and "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" in os.environ:
    # This environment's own memory, whatever the card was measured with: a job that
    # would outgrow it is refused before it runs, rather than killed and billed.
    memory_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    cost = cost.model_copy(update={"memory_budget_gb": MEMORY_SHARE * memory_mb / 1000})
inpainter = Inpainter.load(
    model_dir,
    cost=cost,
    limits=Limits(max_file_bytes=settings.max_upload_bytes, max_pixels=settings.max_pixels),
    # Unset in Lambda, where every vCPU of the environment is its own; the local twin
    # shares one machine's cores among its environments.
    threads=int(os.environ["HOLEFILL_THREADS"]) if "HOLEFILL_THREADS" in os.environ else None,
)


# The event is not logged: its job id gives access to the results.
@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    """Runs each message's job; what raises here (S3 cannot be read) returns the message to
    the queue, which delivers it again and, after its last try, to the dead letters."""
    return [run_job(job_id) for job_id in job_ids(event)]


@tracer.capture_method
def run_job(job_id):
    """Runs the job unless another delivery of its message did, or it is past its deadline;
    returns the job's final status."""
    logger.append_keys(job=keys.log_tag(job_id))
    job, etag = job_store.load(job_id)
    now = now_utc()
    if job.past_deadline(now):
        # It waited too long, or this is the message coming back after the run that took
        # it stopped without returning (out of time or memory): the queue's visibility
        # timeout outlasts the job's deadline, so that run cannot still be going.
        logger.warning("job past its deadline", extra={"status": job.status})
        with contextlib.suppress(JobConflictError):
            job_store.replace(job.timed_out(now), etag)
        return JobStatus.FAILED
    if job.status != JobStatus.QUEUED:
        # SQS delivers a message at least once: this one ran already, or is running.
        logger.warning("job already taken", extra={"status": job.status})
        return job.status
    job = job.started(now, settings.job_deadline_seconds)
    try:
        etag = job_store.replace(job, etag)
    except JobConflictError:
        logger.warning("job taken by another delivery")
        return JobStatus.RUNNING

    started = time.perf_counter()
    try:
        job = _inpaint(job)
    except InvalidInputError as error:
        logger.info("the photo or mask cannot be inpainted", extra={"code": error.code})
        job = job.failed(now_utc(), error.code, error.message, error.http_status)
        metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
    except ServiceError as error:
        logger.info("an upload is gone or beyond the limits", extra={"code": error.code})
        job = job.failed(now_utc(), error.code, error.message, error.status)
        metrics.add_metric(name="JobsRefused", unit=MetricUnit.Count, value=1)
    except Exception:
        logger.exception("the inpainting failed")
        message = "the inpainting failed on our side; the photo and mask are kept: try again"
        job = job.failed(now_utc(), "inpainting_failed", message, 500)
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="JobsDone", unit=MetricUnit.Count, value=1)
        seconds = time.perf_counter() - started
        metrics.add_metric(name="InpaintSeconds", unit=MetricUnit.Seconds, value=seconds)
    try:
        job_store.replace(job, etag)
    except JobConflictError:
        # A reader found the job past its deadline and failed it first: that stands.
        logger.warning("the job was failed meanwhile; its outcome is dropped")
    return job.status


def _inpaint(job):
    photo = storage.read_upload(s3, settings, job.photo_key)
    mask = storage.read_upload(s3, settings, job.mask_key)
    inpainting = inpainter.inpaint(
        photo,
        mask,
        strategy=job.strategy,
        fill=job.fill,
        uncertainty=job.uncertainty,
        uncertainty_samples=job.uncertainty_samples,
        seed=job.seed,
    )
    uncertainty = inpainting.uncertainty
    result = JobResult(
        strategy=inpainting.strategy,
        fill=job.fill,
        content_type=Image.MIME.get(inpainting.photo.format, "application/octet-stream"),
        uncertainty=None
        if uncertainty is None
        else UncertaintyResult(
            method=uncertainty.method, unit=uncertainty.unit, full_scale=uncertainty.full_scale
        ),
    )
    _write_result(
        keys.result_key(job.id, result.content_type), inpainting.encode(), result.content_type
    )
    if uncertainty is not None:
        _write_result(keys.uncertainty_key(job.id), uncertainty.heatmap_png(), "image/png")
        _write_result(keys.uncertainty_data_key(job.id), uncertainty.data_png(), "image/png")
    return job.succeeded(now_utc(), result)


def _write_result(key, data, content_type):
    s3.put_object(Bucket=settings.results_bucket, Key=key, Body=data, ContentType=content_type)
