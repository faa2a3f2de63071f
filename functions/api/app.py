"""ApiFunction: presigned uploads, jobs, and their results, behind API Gateway (REST).

    POST /uploads        presigned POSTs for a photo and its mask, and the upload's secret
    POST /jobs           checks both uploads and their secret, records the job, starts the
                         inpainting: 202 with the job's secret
    GET  /jobs/{job_id}  with the job's secret: its state; when done, presigned GET URLs of
                         the results
    GET  /limits         what a photo may be: bytes, pixels, formats (the web app checks a
                         photo against these when it is opened)
    GET  /health         liveness
    GET  /openapi.json   this API's OpenAPI description, generated from the routes below

Every error answers `{"error": {"code", "message"}}` with a 4xx or 5xx status.
`create_app(settings, s3, job_queue)` builds the API, so that it imports and runs without an
environment (tests, the OpenAPI document); `handler`, the Lambda edge, builds it once from
the environment, which nothing else reads.
"""

import contextlib
import datetime
import functools
import json
import os
from typing import Annotated

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field, field_validator, model_validator

from holefill_service import formats, keys, storage
from holefill_service.errors import ServiceError, error_body
from holefill_service.job_queue import JobQueue
from holefill_service.jobs import (
    DEFAULT_UNCERTAINTY_SAMPLES,
    FILLS,
    MAX_UNCERTAINTY_SAMPLES,
    Fill,
    Job,
    JobConflictError,
    JobResult,
    JobStatus,
    JobStore,
    Strategy,
    UncertaintyChoice,
    UncertaintySamples,
    now_utc,
)
from holefill_service.settings import Settings

# A request body is a few keys and options: anything larger is a mistake or an attack,
# refused before it is parsed.
MAX_BODY_BYTES = 16_384
# Every answer is JSON and says so: no browser is to read it as anything else.
NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
# The paths this API serves and their methods: another method answers 405, not 404.
ROUTE_METHODS = {
    "/uploads": "POST",
    "/jobs": "POST",
    "/limits": "GET",
    "/health": "GET",
    "/openapi.json": "GET",
}

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def _parse_json(body):
    """`json.loads`, with the bodies Python gives up on (nested thousands deep, integers of
    thousands of digits) refused as malformed JSON: they are the client's mistake."""
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as error:
        raise json.JSONDecodeError(str(error), body, 0) from error


class UploadRequest(BaseModel):
    """The content types the browser will send the files with (S3 checks them)."""

    photo_content_type: str = Field(examples=["image/jpeg"])
    mask_content_type: str = Field(default="image/png", examples=["image/png"])

    @field_validator("photo_content_type", "mask_content_type")
    @classmethod
    def _known_image_type(cls, content_type):
        if content_type not in formats.IMAGE_CONTENT_TYPES:
            raise ValueError(f"must be one of {', '.join(formats.IMAGE_CONTENT_TYPES)}")
        return content_type


class PresignedPost(BaseModel):
    """Post `fields` and then the file (as the form field `file`) to `url`."""

    key: str
    url: str
    fields: dict[str, str]


class UploadResponse(BaseModel):
    upload_id: str
    upload_secret: str = Field(
        description="what POST /jobs must present to use this upload; keep it private"
    )
    photo: PresignedPost
    mask: PresignedPost
    max_bytes: int
    expires_in: int
    max_jobs: int = Field(description="how many jobs this upload may start")


class JobRequest(BaseModel):
    photo_key: str = Field(max_length=100, examples=["uploads/<upload id>/photo"])
    mask_key: str = Field(max_length=100, examples=["uploads/<upload id>/mask"])
    upload_secret: str = Field(
        min_length=1, max_length=100, description="the upload_secret of POST /uploads"
    )
    strategy: Strategy = Field(
        default="auto", description="how the photo meets the network (auto chooses)"
    )
    fill: Fill = Field(
        default=FILLS[0],
        description="synthesis (the network's fill refined with the photo's own texture) "
        "or network (the network's fill alone)",
    )
    uncertainty: UncertaintyChoice = Field(
        default="auto",
        description="the uncertainty map: auto (the one the model's card offers, if any), "
        "none, error-map or monte-carlo; a method the model does not offer fails the job "
        "with uncertainty_unavailable and the card's reason",
    )
    uncertainty_samples: UncertaintySamples | None = Field(
        default=None,
        description="Monte-Carlo dropout samples, for uncertainty monte-carlo only "
        f"(default {DEFAULT_UNCERTAINTY_SAMPLES})",
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="seeds the synthesis's choice of patches (and the dropout draws): the "
        "same photo, mask and seed give the same fill, another seed another plausible one",
    )

    @model_validator(mode="after")
    def _samples_for_monte_carlo(self):
        if self.uncertainty_samples is not None and self.uncertainty != "monte-carlo":
            raise ValueError("uncertainty_samples applies to uncertainty monte-carlo only")
        if self.uncertainty == "monte-carlo" and self.uncertainty_samples is None:
            self.uncertainty_samples = DEFAULT_UNCERTAINTY_SAMPLES
        return self


class JobAccepted(BaseModel):
    id: str
    status: JobStatus
    job_secret: str = Field(
        description=f"what GET /jobs/{{job_id}} must present in {keys.JOB_SECRET_HEADER}; "
        "keep it private"
    )


class ResultFiles(BaseModel):
    """Presigned GETs of a done job's files, each valid for `expires_in` seconds."""

    result: str = Field(description="the filled photo, of the result's content_type")
    uncertainty: str | None = Field(
        default=None,
        description="the map as a PNG over the photo: inferno colours on the holes (black = "
        "0, yellow = full_scale or more), transparent elsewhere",
    )
    uncertainty_data: str | None = Field(
        default=None,
        description="the map's values as a 16-bit greyscale PNG: a pixel's grey over 65535 "
        "is its value in `unit` (1 = the full range), 0 off the holes",
    )


class ErrorDetail(BaseModel):
    code: str
    message: str


class JobView(BaseModel):
    """A job as the API shows it: its result and files only when done, `error` only when
    failed."""

    id: str
    status: JobStatus
    created_at: datetime.datetime
    updated_at: datetime.datetime
    result: JobResult | None = None
    files: ResultFiles | None = None
    expires_in: int | None = None
    error: ErrorDetail | None = None


class ImageFormat(BaseModel):
    content_type: str = Field(examples=["image/jpeg"])
    name: str = Field(examples=["JPEG"])
    extensions: list[str] = Field(examples=[["jpg", "jpeg"]])


class Limits(BaseModel):
    """What a photo and its mask may be: beyond these, an upload or a job is refused."""

    max_bytes: int = Field(description="the largest photo or mask file")
    max_pixels: int = Field(description="the largest width x height of a photo or mask")
    formats: list[ImageFormat] = Field(description="the photo formats the service reads")
    max_uncertainty_samples: int
    max_jobs_per_upload: int


def create_app(settings, s3, job_queue):
    """The API over `settings`' buckets, through `s3` (a boto3 client), starting jobs
    through `job_queue` (a `JobQueue`). Its OpenAPI document needs neither: pass None."""
    app = APIGatewayRestResolver(
        enable_validation=True,
        json_body_deserializer=_parse_json,
        cors=CORSConfig(
            allow_origin=settings.allowed_origin,
            allow_headers=[keys.JOB_SECRET_HEADER],
            max_age=600,
        )
        if settings.allowed_origin
        else None,
    )
    job_store = JobStore(s3, settings.results_bucket)
    service_limits = Limits(
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_pixels,
        formats=[
            ImageFormat(content_type=content_type, name=name, extensions=list(extensions))
            for content_type, (name, extensions) in formats.IMAGE_FORMATS.items()
        ],
        max_uncertainty_samples=MAX_UNCERTAINTY_SAMPLES,
        max_jobs_per_upload=settings.max_jobs_per_upload,
    )

    @app.post("/uploads", responses={201: {"description": "presigned POSTs"}})
    @tracer.capture_method
    def create_upload(request: UploadRequest) -> Response[UploadResponse]:
        # Presigning needs no S3 call: without this, a dead S3 would hand out forms to nowhere.
        storage.check_reachable(s3, settings)
        upload_id = keys.new_id()
        secret = keys.new_secret()
        parts = {}
        for part, content_type in (
            ("photo", request.photo_content_type),
            ("mask", request.mask_content_type),
        ):
            key = keys.upload_key(upload_id, part)
            presigned = storage.presigned_upload(
                s3, settings, key, content_type, keys.secret_digest(secret)
            )
            parts[part] = PresignedPost(key=key, **presigned)
        upload = UploadResponse(
            upload_id=upload_id,
            upload_secret=secret,
            max_bytes=settings.max_upload_bytes,
            expires_in=settings.upload_expiry_seconds,
            max_jobs=settings.max_jobs_per_upload,
            **parts,
        )
        return _json(201, upload.model_dump(mode="json"))

    @app.post("/jobs", responses={202: {"description": "the job is queued"}})
    @tracer.capture_method
    def create_job(request: JobRequest) -> Response[JobAccepted]:
        # Both keys are checked before S3 is asked about either.
        upload_keys = [
            keys.check_upload_key(request.photo_key, "photo"),
            keys.check_upload_key(request.mask_key, "mask"),
        ]
        upload_id = keys.upload_id_of(upload_keys[0])
        if keys.upload_id_of(upload_keys[1]) != upload_id:
            raise ServiceError(
                422,
                "upload_mismatch",
                "photo_key and mask_key must come from the same POST /uploads",
            )
        for key in upload_keys:
            storage.check_upload(s3, settings, key, request.upload_secret)
        job_id, secret = keys.new_id(), keys.new_secret()
        job_store.claim_upload_use(upload_id, job_id, settings.max_jobs_per_upload)
        now = now_utc()
        # Until a worker starts it, a job may wait for as long as the queue keeps its message.
        deadline_seconds = settings.queue_seconds + settings.job_deadline_seconds
        job = Job(
            id=job_id,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            deadline=now + datetime.timedelta(seconds=deadline_seconds),
            secret_sha256=keys.secret_digest(secret),
            **request.model_dump(exclude={"upload_secret"}),
        )
        etag = job_store.create(job)
        try:
            job_queue.start(job.id)
        except (BotoCoreError, ClientError) as error:
            logger.exception("could not start the inpainting", extra={"job": keys.log_tag(job.id)})
            message = "the inpainting could not be started; try again in a moment"
            job_store.replace(job.failed(now_utc(), "inpainting_unavailable", message, 503), etag)
            raise ServiceError(503, "inpainting_unavailable", message) from error
        logger.info("job queued", extra={"job": keys.log_tag(job.id)})
        metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        accepted = JobAccepted(id=job.id, status=job.status, job_secret=secret)
        return _json(202, accepted.model_dump(mode="json"))

    @app.get("/jobs/<job_id>")
    @tracer.capture_method
    def get_job(
        job_id: str,
        job_secret: Annotated[
            str | None,
            Header(alias=keys.JOB_SECRET_HEADER, description="the job_secret of POST /jobs"),
        ] = None,
    ) -> JobView:
        job, etag = job_store.load_for(job_id, job_secret)
        now = now_utc()
        if job.past_deadline(now):
            # A conflict means the worker finished, or another reader failed the job, meanwhile.
            with contextlib.suppress(JobConflictError):
                job_store.replace(job.timed_out(now), etag)
            job, _ = job_store.load(job_id)
        view = JobView(
            id=job.id, status=job.status, created_at=job.created_at, updated_at=job.updated_at
        )
        if job.status == JobStatus.DONE:
            view.result = job.result
            mapped = job.result.uncertainty is not None

            def url(key):
                return storage.presigned_download(s3, settings, key)

            view.files = ResultFiles(
                result=url(job.result_key),
                uncertainty=url(keys.uncertainty_key(job.id)) if mapped else None,
                uncertainty_data=url(keys.uncertainty_data_key(job.id)) if mapped else None,
            )
            view.expires_in = settings.download_expiry_seconds
        if job.status == JobStatus.FAILED:
            # A job that failed answers as the request would have, had it run synchronously:
            # 4xx when the photo or mask cannot be inpainted, 5xx when the service failed.
            view.error = ErrorDetail(code=job.error.code, message=job.error.message)
            return _json(job.error.http_status, view.model_dump(mode="json"))
        return view

    @app.get("/limits")
    def limits() -> Limits:
        return service_limits

    @app.get("/health", responses={503: {"description": "S3 cannot be reached"}})
    def health() -> dict:
        storage.check_reachable(s3, settings)
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict:
        return openapi_document(app)

    _answer_errors(app)
    return app


def openapi_document(app):
    """The OpenAPI description of `app` (a `create_app`), as `GET /openapi.json` answers."""
    return json.loads(
        app.get_openapi_json_schema(
            title="Holefill API",
            version="1",
            description="Upload a photo and a mask, start a job, fetch the inpainted photo "
            "and its uncertainty map.",
        )
    )


def _answer_errors(app):
    """Every error as `{"error": {"code", "message"}}`, and the headers of every answer."""

    def _reject_large_bodies(app, next_middleware):
        _check_body_size()
        return next_middleware(app)

    def _no_sniffing(app, next_middleware):
        response = next_middleware(app)
        response.headers.update(NO_SNIFF)
        return response

    app.use(middlewares=[_no_sniffing, _reject_large_bodies])

    def _check_body_size():
        body = app.current_event.body or ""
        if len(body) > MAX_BODY_BYTES:
            raise ServiceError(
                413,
                "body_too_large",
                f"the request body has {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted",
            )

    @app.exception_handler(ServiceError)
    def _service_error(error):
        if error.status >= 500:
            metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        return _json(error.status, error.body(), error.headers)

    @app.exception_handler(BotoCoreError)
    def _storage_unreachable(error):
        # Connection refused or timed out: S3 is away, which passes; say when to retry.
        logger.warning("S3 cannot be reached", extra={"error": type(error).__name__})
        return _service_error(storage.storage_unavailable())

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error):
        # Validation runs before any middleware: an oversized body is refused as such here.
        try:
            _check_body_size()
        except ServiceError as too_large:
            return _service_error(too_large)
        problems = error.errors()
        if any(problem["type"] == "json_invalid" for problem in problems):
            return _json(400, error_body("malformed_json", "the request body is not valid JSON"))
        described = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'body'}: "
            f"{problem['msg'].removeprefix('Value error, ')}"
            for problem in problems
        )
        return _json(422, error_body("invalid_request", described))

    @app.exception_handler(RequestUnsupportedContentType)
    def _not_json(error):
        message = "the request body must be JSON (Content-Type: application/json)"
        return _json(415, error_body("unsupported_media_type", message))

    @app.not_found
    def _not_found(error):
        path = app.current_event.path
        allowed = ROUTE_METHODS.get(path)
        if path.startswith("/jobs/") and "/" not in path.removeprefix("/jobs/"):
            allowed = "GET"
        if allowed and app.current_event.http_method != allowed:
            message = f"{path} answers {allowed} only"
            return _json(405, error_body("method_not_allowed", message), {"Allow": allowed})
        return _json(404, error_body("not_found", f"there is nothing at {path}"))

    @app.exception_handler(Exception)
    def _unexpected(error):
        logger.exception("unexpected error")
        metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=1)
        message = "something went wrong on our side; try again, and report it if it persists"
        return _json(500, error_body("internal_error", message))


def _json(status, body, headers=None):
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={**NO_SNIFF, **(headers or {})},
    )


@functools.cache
def _app_of_environment():
    settings = Settings.from_environment(os.environ)
    return create_app(
        settings,
        storage.s3_client(custom_endpoint="AWS_ENDPOINT_URL_S3" in os.environ),
        JobQueue(settings.job_queue_url),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event, context):
    return _app_of_environment().resolve(event, context)
