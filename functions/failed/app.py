"""JobFailedFunction: reads the job queue's dead letters.

A job's message goes there once SQS has delivered it `maxReceiveCount` times and no
delivery returned: the InpaintFunction could not start (its init failed, it was throttled)
or could not read the job's record. Its job is failed here, so that its reader is told
at once rather than at the job's deadline. This module is the Lambda edge: it alone reads
the environment.
"""

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from holefill_service import keys, storage
from holefill_service.errors import ServiceError
from holefill_service.job_queue import job_ids
from holefill_service.jobs import JobConflictError, JobStore, now_utc
from holefill_service.settings import Settings

settings = Settings.from_environment(os.environ)
logger = Logger()
metrics = Metrics()
s3 = storage.s3_client(custom_endpoint="AWS_ENDPOINT_URL_S3" in os.environ)
job_store = JobStore(s3, settings.results_bucket)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    """Fails each dead letter's job unless it finished; returns their statuses."""
    return [fail_job(job_id) for job_id in job_ids(event)]


def fail_job(job_id):
    logger.append_keys(job=keys.log_tag(job_id))
    try:
        job, etag = job_store.load(job_id)
    except ServiceError:
        logger.warning("the dead letter's job does not exist")
        return None
    if job.finished:
        return job.status
    logger.warning("no inpainting returned for the job", extra={"status": job.status})
    try:
        job_store.replace(job.stopped(now_utc()), etag)
    except JobConflictError:
        # The worker or a reader moved the job on meanwhile: that stands.
        return job_store.load(job_id)[0].status
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    return job_store.load(job_id)[0].status
