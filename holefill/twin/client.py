"""A client of the Holefill API, as the web app uses it: upload, start a job, poll.

For the tests and the load benchmark; it talks HTTP only, so it works against the twin
and against a deployed stack alike. Like the web app, it keeps the secrets of its uploads
and jobs in memory and presents them itself.
"""

import time

import requests

# Puts the layer on the import path (as Lambda's /opt/python): before `holefill_service`.
from holefill.twin import functions  # noqa: F401
from holefill_service.keys import JOB_SECRET_HEADER

# How often a job's state is asked for, as the web app (`frontend/src/fill.ts`) does: the
# first pause, growing by half each time up to the longest, so that a quick job is seen
# soon and a long one costs few requests of the throttle shared by every client.
POLL_SECONDS = 0.5
LONGEST_POLL_SECONDS = 4.0
THROTTLE_RETRIES = 5


class HolefillClient:
    """Args:
    api_url: the API's base URL (the twin's `/api`, or the stack's ApiUrl output).
    origin: the web origin sent as `Origin`, as a browser would.
    poll_seconds: the first pause between two polls of a job.
    source_address: the local address to call from (any of 127.0.0.0/8 on Linux), so
        that clients on one machine are throttled as the users at distinct addresses that
        they stand for.
    """

    def __init__(self, api_url, origin=None, poll_seconds=POLL_SECONDS, source_address=None):
        self.api_url = api_url.rstrip("/")
        self.poll_seconds = poll_seconds
        self.upload_secrets = {}  # by photo key
        self.job_secrets = {}  # by job id
        self.session = requests.Session()
        if origin:
            self.session.headers["Origin"] = origin
        if source_address:
            self.session.mount("http://", _FromAddress(source_address))

    def request(self, method, path, **options):
        """One API call; a throttled one (429 `too_many_requests`) is retried after the
        `Retry-After` it names, up to `THROTTLE_RETRIES` times, as the web app does."""
        for _ in range(THROTTLE_RETRIES):
            response = self.session.request(method, self.api_url + path, timeout=30, **options)
            if response.status_code != 429 or _code(response) != "too_many_requests":
                return response
            time.sleep(float(response.headers.get("Retry-After", 1)))
        return response

    def upload(self, photo, mask, photo_type="image/png", mask_type="image/png"):
        """Posts both files with the presigned POSTs of `POST /uploads`.

        Returns:
            `(photo_key, mask_key, s3_responses)`; S3's responses say whether it took them.
        """
        response = self.request(
            "POST",
            "/uploads",
            json={"photo_content_type": photo_type, "mask_content_type": mask_type},
        )
        response.raise_for_status()
        upload = response.json()
        answers = [
            post_file(upload[part], data, content_type)
            for part, data, content_type in (
                ("photo", photo, photo_type),
                ("mask", mask, mask_type),
            )
        ]
        self.upload_secrets[upload["photo"]["key"]] = upload["upload_secret"]
        return upload["photo"]["key"], upload["mask"]["key"], answers

    def start_job(self, photo_key, mask_key, **options):
        """`POST /jobs` with the upload's secret (unless `options` has `upload_secret`)."""
        body = {"photo_key": photo_key, "mask_key": mask_key, **options}
        body.setdefault("upload_secret", self.upload_secrets.get(photo_key, ""))
        response = self.request("POST", "/jobs", json=body)
        if response.status_code == 202:
            self.job_secrets[response.json()["id"]] = response.json()["job_secret"]
        return response

    def get_job(self, job_id, secret=None):
        """`GET /jobs/{id}` with the job's secret (or `secret`)."""
        secret = secret if secret is not None else self.job_secrets.get(job_id)
        headers = {JOB_SECRET_HEADER: secret} if secret else {}
        return self.request("GET", f"/jobs/{job_id}", headers=headers)

    def wait(self, job_id, timeout=60):
        """Polls `GET /jobs/{id}` until the job is done or failed; returns the response."""
        deadline = time.monotonic() + timeout
        pause = self.poll_seconds
        while True:
            response = self.get_job(job_id)
            if response.json().get("status") not in ("queued", "running"):
                return response
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {response.json()['status']}")
            time.sleep(pause)
            pause = min(LONGEST_POLL_SECONDS, pause * 1.5)

    def inpaint(self, photo, mask, photo_type="image/png", mask_type="image/png", **options):
        """Upload, job, wait: returns the final `GET /jobs/{id}` response."""
        photo_key, mask_key, _ = self.upload(photo, mask, photo_type, mask_type)
        started = self.start_job(photo_key, mask_key, **options)
        if started.status_code != 202:
            return started
        return self.wait(started.json()["id"])


class _FromAddress(requests.adapters.HTTPAdapter):
    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *arguments, **options):
        super().init_poolmanager(*arguments, source_address=(self.address, 0), **options)


def _code(response):
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def post_file(presigned, data, content_type):
    """Posts one file with a presigned POST (`{"url", "fields"}`), as a browser form does."""
    return requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("upload", data, content_type)},
        timeout=30,
    )
