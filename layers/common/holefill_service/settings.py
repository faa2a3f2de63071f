"""The service's settings: one dataclass, read from the environment by the handlers only.

Every other module takes a `Settings` as an argument, so that tests and the local twin
pass their own without touching the environment. The template sets these variables
from its parameters; the local twin sets them for its own functions.
"""

import dataclasses

MEGABYTE = 1_000_000


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the functions need to know about the stack.

    Attributes:
        uploads_bucket: photos and masks, under `uploads/`.
        results_bucket: job records under `jobs/`, results under `results/`.
        max_upload_bytes: the largest photo or mask a presigned POST accepts.
        max_pixels: the largest width x height of a photo or mask the InpaintFunction
            decodes.
        upload_expiry_seconds: how long a presigned POST stays valid.
        download_expiry_seconds: how long a result's presigned GET URL stays valid.
        inpaint_timeout_seconds: the InpaintFunction's timeout.
        queue_seconds: how long a job's message may wait in the job queue for a free
            InpaintFunction (the queue's `MessageRetentionPeriod`).
        grace_seconds: slack on top of those before a job that did not finish is failed.
        max_jobs_per_upload: how many jobs one upload may start.
        job_queue_url: the job queue's URL (the API function's only).
        allowed_origin: the web app's origin, which the API's CORS headers name (the API
            function's only).
    """

    uploads_bucket: str
    results_bucket: str
    max_upload_bytes: int = 25 * MEGABYTE
    max_pixels: int = 50_000_000
    upload_expiry_seconds: int = 300
    download_expiry_seconds: int = 900
    inpaint_timeout_seconds: int = 300
    queue_seconds: int = 900
    grace_seconds: int = 30
    max_jobs_per_upload: int = 3
    job_queue_url: str | None = None
    allowed_origin: str | None = None

    @classmethod
    def from_environment(cls, environ):
        """From `environ` (the handler passes `os.environ`): the bucket names are
        required, the rest optional, named in upper case (`MAX_UPLOAD_BYTES`)."""
        values = {}
        for field in dataclasses.fields(cls):
            name = field.name.upper()
            if name in environ:
                values[field.name] = environ[name] if field.type is not int else int(environ[name])
            elif field.default is dataclasses.MISSING:
                raise RuntimeError(f"the environment variable {name} is not set")
        return cls(**values)

    @property
    def job_deadline_seconds(self):
        """From the start of an attempt to the moment a job still running has failed."""
        return self.inpaint_timeout_seconds + self.grace_seconds

    def to_environment(self):
        """The variables that `from_environment` reads back into these settings."""
        return {
            field.name.upper(): str(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if getattr(self, field.name) is not None
        }
