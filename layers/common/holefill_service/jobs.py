"""Job records: one JSON object per job in the results bucket, `jobs/<id>.json`.

S3 is strongly consistent, and conditional writes (`If-None-Match`, `If-Match`) make each
change of state happen once: two deliveries of the same invocation cannot both run the
job, and a late worker cannot overwrite the failure that a reader recorded.

A job goes queued -> running -> done or failed. Every state but the last two has a
deadline; a job found past it has failed ("inpainting_timed_out"), whoever finds it, so
that a worker that dies, times out or never starts cannot leave a job running forever.
"""

import datetime
import enum
import typing
from typing import Annotated, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, model_validator

from holefill_service import keys, storage
from holefill_service.errors import ServiceError

# What a job may ask for. The layer does not import holefill, whose own names these are
# (`holefill.inference`'s strategies, fills and uncertainty methods, with "auto" and "none"
# for the map): tests/test_contracts.py keeps the two equal. The API, the job record, the
# OpenAPI document and the web app's TypeScript all take their choices from these types.
Strategy = Literal["auto", "crop", "tile", "resize"]
AppliedStrategy = Literal["crop", "tile", "resize"]
Fill = Literal["synthesis", "network"]
UncertaintyChoice = Literal["auto", "none", "error-map", "monte-carlo"]
UncertaintyMethod = Literal["error-map", "monte-carlo"]
STRATEGIES = typing.get_args(Strategy)
FILLS = typing.get_args(Fill)
UNCERTAINTY_CHOICES = typing.get_args(UncertaintyChoice)
# Monte-Carlo dropout samples: each costs a run of the network's head, so the most a job
# may ask for bounds its time. `holefill.inference.inpainter` has the same two numbers.
DEFAULT_UNCERTAINTY_SAMPLES = 16
MAX_UNCERTAINTY_SAMPLES = 32
UncertaintySamples = Annotated[int, Field(ge=2, le=MAX_UNCERTAINTY_SAMPLES)]


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class JobError(BaseModel):
    """Why a job failed: the error the API answers with, and its HTTP status."""

    code: str
    message: str
    http_status: int


class UncertaintyResult(BaseModel):
    """A done job's uncertainty map: what its pixels mean."""

    method: UncertaintyMethod
    unit: str = Field(description="what a pixel's value means")
    full_scale: float = Field(description="the value that the map's top colour stands for")


class JobResult(BaseModel):
    """What a done job made. Its record keeps this, and `GET /jobs/{job_id}` answers with
    it as it is, beside the URLs of its files."""

    strategy: AppliedStrategy = Field(description="how the photo met the network")
    fill: Fill
    content_type: str = Field(
        description="the result's type: the photo's own (HEIC and AVIF come back as JPEG)"
    )
    uncertainty: UncertaintyResult | None = Field(
        default=None, description="the map, if the job asked for one and the model has it"
    )


class Job(BaseModel):
    """One job's record."""

    id: str
    status: JobStatus
    photo_key: str
    mask_key: str
    strategy: Strategy
    secret_sha256: str
    fill: Fill = FILLS[0]
    uncertainty: UncertaintyChoice = "auto"
    uncertainty_samples: UncertaintySamples | None = None
    seed: int = 0
    created_at: datetime.datetime
    updated_at: datetime.datetime
    deadline: datetime.datetime
    attempts: int = 0
    result: JobResult | None = None
    error: JobError | None = None

    @model_validator(mode="before")
    @classmethod
    def _result_of_older_records(cls, record):
        # Done records of the release before JobResult kept it as flat fields; they live
        # until the bucket's retention expires them.
        if (
            isinstance(record, dict)
            and record.get("result_content_type")
            and not record.get("result")
        ):
            method = record.get("uncertainty_method")
            record = dict(record)
            record["result"] = {
                "strategy": record.get("applied_strategy"),
                "fill": record.get("fill", FILLS[0]),
                "content_type": record["result_content_type"],
                "uncertainty": method
                and {
                    "method": method,
                    "unit": record.get("uncertainty_unit"),
                    "full_scale": record.get("uncertainty_full_scale"),
                },
            }
        return record

    @property
    def finished(self):
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def past_deadline(self, now):
        return not self.finished and now > self.deadline

    def started(self, now, deadline_seconds):
        return self.model_copy(
            update={
                "status": JobStatus.RUNNING,
                "attempts": self.attempts + 1,
                "updated_at": now,
                "deadline": now + datetime.timedelta(seconds=deadline_seconds),
            }
        )

    def succeeded(self, now, result):
        """Done, having made `result` (its files at `result_key` and the uncertainty keys)."""
        return self.model_copy(
            update={"status": JobStatus.DONE, "updated_at": now, "result": result}
        )

    @property
    def result_key(self):
        return keys.result_key(self.id, self.result.content_type)

    def failed(self, now, code, message, http_status):
        error = JobError(code=code, message=message, http_status=http_status)
        return self.model_copy(
            update={"status": JobStatus.FAILED, "updated_at": now, "error": error}
        )

    def timed_out(self, now):
        return self.failed(
            now,
            "inpainting_timed_out",
            "the inpainting did not finish in time (it waited or ran too long, or stopped); "
            + _KEPT,
            504,
        )

    def stopped(self, now):
        """Failed because its message came back undone: the run that took it ended without
        returning (out of time or memory, or its environment died), or no run could take
        it (the dead letters)."""
        if self.past_deadline(now):
            return self.timed_out(now)
        if self.status == JobStatus.QUEUED:
            message = f"the inpainting could not be started; {_KEPT}"
            return self.failed(now, "inpainting_unavailable", message, 503)
        message = (
            "the inpainting stopped before it finished (it ran out of memory, or its worker "
            f"stopped); {_KEPT}"
        )
        return self.failed(now, "inpainting_failed", message, 500)


_KEPT = "the photo and mask are kept: start a new job with the same keys"


def now_utc():
    return datetime.datetime.now(datetime.UTC)


class JobConflictError(Exception):
    """The record changed since it was read: someone else moved the job on."""


class JobStore:
    """Reads and writes job records.

    Args:
        s3: a boto3 S3 client.
        bucket: the results bucket.
    """

    def __init__(self, s3, bucket):
        self.s3 = s3
        self.bucket = bucket

    def create(self, job):
        """Writes a new record; returns its ETag."""
        return self._put(job, IfNoneMatch="*")

    def claim_upload_use(self, upload_id, job_id, uses):
        """Takes one of an upload's `uses` (a record each, created only if absent, so that
        two jobs cannot take the same one).

        Raises:
            ServiceError: 429 "upload_used_up" when every use is taken.
        """
        for use in range(uses):
            try:
                self.s3.put_object(
                    Bucket=self.bucket,
                    Key=keys.upload_use_key(upload_id, use),
                    Body=job_id.encode(),
                    IfNoneMatch="*",
                )
                return
            except ClientError as error:
                if error.response["Error"]["Code"] not in _CONFLICTS:
                    raise
        raise ServiceError(
            429,
            "upload_used_up",
            f"this upload has started {uses} jobs, the most one may: upload the photo and "
            "mask again to start another",
        )

    def load_for(self, job_id, secret):
        """`load`, for the holder of the job's secret only: anyone else is told that there
        is no such job, so that ids cannot be probed.

        Raises:
            ServiceError: 401 "job_secret_required" without a secret; 404 "job_not_found".
        """
        if not secret:
            raise ServiceError(
                401,
                "job_secret_required",
                f"send the job_secret that POST /jobs returned in the {keys.JOB_SECRET_HEADER} "
                "header",
            )
        job, etag = self.load(job_id)
        if not keys.secret_matches(secret, job.secret_sha256):
            raise _job_not_found(job_id)
        return job, etag

    def load(self, job_id):
        """Returns `(job, etag)`.

        Raises:
            ServiceError: 404 "job_not_found".
        """
        if not keys.is_job_id(job_id):
            raise _job_not_found(job_id)
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=keys.job_key(job_id))
        except ClientError as error:
            if error.response["Error"]["Code"] in storage.MISSING_KEY_CODES:
                raise _job_not_found(job_id) from error
            raise
        return Job.model_validate_json(response["Body"].read()), response["ETag"]

    def replace(self, job, etag):
        """Writes `job` over the record read with `etag`; returns the new ETag.

        Raises:
            JobConflictError: the record changed since.
        """
        return self._put(job, IfMatch=etag)

    def _put(self, job, **condition):
        try:
            response = self.s3.put_object(
                Bucket=self.bucket,
                Key=keys.job_key(job.id),
                Body=job.model_dump_json().encode(),
                ContentType="application/json",
                **condition,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] in _CONFLICTS:
                raise JobConflictError(job.id) from error
            raise
        return response["ETag"]


# What S3 answers to a conditional write whose condition fails.
_CONFLICTS = ("PreconditionFailed", "ConditionalRequestConflict")


def _job_not_found(job_id):
    shown = job_id if len(job_id) <= 40 else job_id[:40] + "..."
    return ServiceError(404, "job_not_found", f"there is no job {shown!r} that this secret opens")
