"""`LocalTwin`: SeaweedFS, the job queue with its local Lambda, and the gateway, started and
stopped together."""

import contextlib
import dataclasses
import datetime
import logging
import os
import warnings
from pathlib import Path

from holefill.card import CARD_NAME

# Puts the layer on the import path (as Lambda's /opt/python): before `holefill_service`.
from holefill.twin.functions import LambdaContext, load_function
from holefill.twin.gateway import (
    API_PREFIX,
    DEFAULT_BURST,
    DEFAULT_RATE,
    PER_CLIENT_REQUESTS,
    PER_CLIENT_SECONDS,
    REQUEST_SECONDS,
    Gateway,
    PerClientLimit,
    StageThrottle,
)
from holefill.twin.lambdas import LocalFunction, QueuedLambda
from holefill.twin.ports import ensure_free
from holefill.twin.seaweed import SeaweedFS
from holefill_service import keys
from holefill_service.job_queue import message_body
from holefill_service.jobs import JobConflictError, JobStatus, JobStore, now_utc
from holefill_service.settings import Settings

log = logging.getLogger("holefill.twin")
INPAINT_FUNCTION_NAME = "InpaintFunction"
FAILED_FUNCTION_NAME = "JobFailedFunction"
API_FUNCTION_NAME = "ApiFunction"
JOB_QUEUE_NAME = "holefill-jobs"
# ApiFunction environments: requests served at once (a request that waits on a hung S3
# holds one for its deadline, a few seconds).
API_ENVIRONMENTS = 4
# The ApiFunction's timeout, and the job queue's numbers, in `template.yaml`.
API_TIMEOUT_SECONDS = 28
QUEUE_VISIBILITY_SECONDS = 360
QUEUE_MAX_RECEIVES = 3


@dataclasses.dataclass
class TwinConfig:
    """What the twin runs.

    Attributes:
        model_dir: the exported model folder the InpaintFunction loads.
        data_dir: SeaweedFS's data, kept between runs.
        port: the web app and the API (under /api).
        s3_port: S3, where browsers post uploads.
        workers: InpaintFunction environments at once (its event source's
            `MaximumConcurrency`).
        static_dir: the built web app, if any.
        settings: the functions' settings (buckets, limits, timeouts).
        api_rate: API requests a second, and the burst, of all clients (the stage throttle).
        per_client_requests: API requests one address may make in a trailing number of
            seconds (the WAF rule), or None for no such limit.
        request_seconds: how long the gateway waits for a request to arrive.
        queue_visibility_seconds: how long a message whose invocation did not return
            stays out of the job queue.
    """

    model_dir: Path
    data_dir: Path
    port: int = 8000
    s3_port: int = 8333
    workers: int = 1
    static_dir: Path | None = None
    api_rate: tuple[float, int] = (DEFAULT_RATE, DEFAULT_BURST)
    per_client_requests: tuple[int, float] | None = (PER_CLIENT_REQUESTS, PER_CLIENT_SECONDS)
    request_seconds: float = REQUEST_SECONDS
    queue_visibility_seconds: float = QUEUE_VISIBILITY_SECONDS
    settings: Settings = dataclasses.field(
        default_factory=lambda: Settings(
            uploads_bucket="holefill-uploads", results_bucket="holefill-results"
        )
    )

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"


class LocalTwin:
    """The stack on this machine; a context manager.

    Example:

    ```python
    with LocalTwin(TwinConfig(model_dir=Path("models/default"), data_dir=Path(".twin"))) as twin:
        print(twin.api_url)
    ```
    """

    def __init__(self, config):
        self.config = config
        self.seaweed = self.inpaint_function = self.gateway = self.api = None
        self.failed_function = None

    @property
    def url(self):
        return self.gateway.url

    @property
    def api_url(self):
        return self.gateway.url + API_PREFIX

    def start(self):
        config = self.config
        if not (Path(config.model_dir) / CARD_NAME).is_file():
            raise FileNotFoundError(
                f"no exported model at {config.model_dir}: the InpaintFunction needs one "
                "(`holefill export` writes one; pass its folder with --model, or MODEL=DIR "
                "to make run)"
            )
        if config.queue_visibility_seconds <= config.settings.job_deadline_seconds:
            raise ValueError(
                "queue_visibility_seconds must outlast a job's deadline "
                f"({config.settings.job_deadline_seconds} s): a message that comes back "
                "sooner would find its job still running"
            )
        ensure_free(config.port, "the web app and API", "--port")
        try:
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_services(self):
        config = self.config
        self.seaweed = SeaweedFS(config.data_dir / "seaweedfs", config.s3_port, [config.origin])
        self.seaweed.start()
        self.seaweed.create_buckets(
            [config.settings.uploads_bucket, config.settings.results_bucket]
        )
        environment = self.function_environment()
        self.inpaint_function = QueuedLambda(
            "inpaint",
            INPAINT_FUNCTION_NAME,
            JOB_QUEUE_NAME,
            {
                **environment,
                "POWERTOOLS_SERVICE_NAME": "holefill-inpaint",
                "HOLEFILL_MODEL_DIR": str(Path(config.model_dir).resolve()),
                # More inference threads than cores only adds spinning and switching.
                "HOLEFILL_THREADS": str(max(1, (os.cpu_count() or 1) // config.workers)),
            },
            workers=config.workers,
            timeout_seconds=config.settings.inpaint_timeout_seconds,
            visibility_seconds=config.queue_visibility_seconds,
            max_receives=QUEUE_MAX_RECEIVES,
            on_dead_letter=self._dead_letter,
        ).start()
        api_environment = {
            **environment,
            "POWERTOOLS_SERVICE_NAME": "holefill-api",
            "ALLOWED_ORIGIN": config.origin,
            "JOB_QUEUE_URL": self.inpaint_function.queue_url,
            "AWS_ENDPOINT_URL_SQS": self.inpaint_function.endpoint_url,
        }
        self.api = LocalFunction(
            "api",
            API_FUNCTION_NAME,
            api_environment,
            environments=API_ENVIRONMENTS,
            timeout_seconds=API_TIMEOUT_SECONDS,
        ).start()
        # The dead letters' function runs in this process, called by the inpainting's
        # workers; it reads the functions' environment.
        os.environ.update(environment, POWERTOOLS_SERVICE_NAME="holefill-failed")
        # Metrics are off here, so that function has none to publish, which Powertools
        # warns about once per call.
        warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
        self.failed_function = load_function("failed")
        self.gateway = Gateway(
            config.port,
            self.api.invoke,
            config.static_dir,
            StageThrottle(*config.api_rate),
            PerClientLimit(*config.per_client_requests) if config.per_client_requests else None,
            self._workers_problem,
            config.request_seconds,
        ).start()
        self._resume_jobs()

    def _resume_jobs(self):
        """Jobs that an earlier run left unfinished are in S3: the queued ones are queued
        again (the twin's queue is in memory); the running ones lost their worker with that
        run, and are failed."""
        settings = self.config.settings
        s3 = self.seaweed.client()
        store = JobStore(s3, settings.results_bucket)
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=settings.results_bucket, Prefix="jobs/"
        )
        # A record untouched for longer than a job may wait and run is past its deadline
        # (a reader fails it): only the recent ones are read, however long the history.
        oldest = now_utc() - datetime.timedelta(
            seconds=settings.queue_seconds + settings.job_deadline_seconds
        )
        job_ids = [
            job_id
            for page in pages
            for item in page.get("Contents", [])
            if item["LastModified"] >= oldest
            and (job_id := keys.job_id_of_key(item["Key"])) is not None
        ]
        resumed = failed = 0
        for job_id in job_ids:
            try:
                job, etag = store.load(job_id)
            except ValueError:  # a record of an older Holefill: nothing to resume
                continue
            if job.status == JobStatus.QUEUED and not job.past_deadline(now_utc()):
                self.inpaint_function.send(message_body(job_id))
                resumed += 1
            elif job.status == JobStatus.RUNNING:
                with contextlib.suppress(JobConflictError):
                    store.replace(job.stopped(now_utc()), etag)
                failed += 1
        if resumed or failed:
            log.info(
                "resumed %d queued jobs of an earlier run; failed %d it left running",
                resumed,
                failed,
            )

    def _workers_problem(self):
        down = self.inpaint_function.unavailable_workers()
        if down == 0:
            return None
        total = len(self.inpaint_function.workers)
        return (
            f"{down} of {total} inpainting workers are not running (one that dies is "
            "replaced within a second or two); try again shortly"
        )

    def _dead_letter(self, event):
        if self.failed_function is None:
            raise RuntimeError(
                "a job's message went to the dead letters before the twin had started"
            )
        self.failed_function.handler(event, LambdaContext(FAILED_FUNCTION_NAME))

    def function_environment(self):
        """What Lambda would set for both functions: settings, Powertools, S3 endpoint.

        Each function's Powertools service name comes on top ("holefill-api", ...)."""
        return {
            **self.config.settings.to_environment(),
            **self.seaweed.credentials,
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Holefill",
            # No X-Ray daemon and no CloudWatch here: traces and metrics stay off, and
            # the functions log warnings only (the twin logs each request and job).
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }

    def stop(self):
        for part in (self.gateway, self.api, self.inpaint_function, self.seaweed):
            if part is not None:
                part.stop()
        self.gateway = self.api = self.inpaint_function = self.seaweed = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exception):
        self.stop()
