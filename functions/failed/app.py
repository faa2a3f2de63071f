"""JobFailedFunction: the InpaintFunction's asynchronous OnFailure destination.

Lambda invokes it with a destination record when an invocation of the InpaintFunction did
not return: the handler raised, ran out of time or memory, or its environment died; or
the event waited past its maximum age. The job is failed at once, so that its reader is
told within seconds rather than at the job's deadline. This module is the Lambda edge: it
alone reads the environment.
"""

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from holefill_service import keys, storage
from holefill_service.errors import ServiceError
from holefill_service.jobs import JobConflictError, JobStore, failure_of_invocation, now_utc
from holefill_service.settings import Settings

settings = Settings.from_environment(os.environ)
logger = Logger()
metrics = Metrics()
s3 = storage.s3_client(custom_endpoint="AWS_ENDPOINT_URL_S3" in os.environ)
job_store = JobStore(s3, settings.results_bucket)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    """Fails the job of the record's request payload unless it finished; returns its status."""
    job_id = event["requestPayload"]["job_id"]
    logger.append_keys(job=keys.log_tag(job_id))
    try:
        job, etag = job_store.load(job_id)
    except ServiceError:
        logger.warning("the failed invocation's job does not exist")
        return None
    if job.finished:
        return job.status
    code, message, status = failure_of_invocation(event)
    logger.warning("the inpainting did not return", extra={"code": code})
    try:
        job_store.replace(job.failed(now_utc(), code, message, status), etag)
    except JobConflictError:
        # The worker or a reader moved the job on meanwhile: that stands.
        return job_store.load(job_id)[0].status
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    return job_store.load(job_id)[0].status
