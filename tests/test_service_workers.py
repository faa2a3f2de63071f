"""The InpaintFunction and the dead letters' function against a real S3 (SeaweedFS), through
the local twin and directly with the events in `events/`: a job runs once, one past its
deadline fails and keeps its upload, a worker killed mid-job or idle is replaced, `/health`
says when no worker can take a job, and the queue hands out and dead-letters its messages as
SQS does."""

import hashlib
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from service_helpers import QUEUED_SECRET, encode, mask_array, photo_array, queue_event, queued_job

from holefill.twin.functions import LambdaContext, load_function
from holefill_service import keys
from holefill_service.job_queue import JobQueue, message_body
from holefill_service.jobs import JobStatus, JobStore, now_utc


def test_inpaint_event_runs_a_job_once(twin, client, tiny_model, monkeypatch):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job, store = queued_job(twin, photo_key, mask_key)
    monkeypatch.setenv("HOLEFILL_MODEL_DIR", str(tiny_model))
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "holefill-inpaint")
    inpaint = load_function("inpaint")
    event = queue_event("inpaint.json", job.id)
    context = LambdaContext("InpaintFunction")

    assert inpaint.handler(event, context) == [JobStatus.DONE]
    done, _ = store.load(job.id)
    assert done.result_key == keys.result_key(job.id, "image/png") == f"results/{job.id}/result.png"
    # SQS may deliver a message twice: the second delivery leaves the job alone.
    assert inpaint.handler(event, context) == [JobStatus.DONE]
    assert store.load(job.id)[0].updated_at == done.updated_at


def test_a_job_past_its_deadline_fails_and_keeps_the_upload(twin, client, settings):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job, _ = queued_job(twin, photo_key, mask_key, deadline_seconds=-1)
    response = client.get_job(job.id, secret=QUEUED_SECRET)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "inpainting_timed_out"
    assert response.json()["status"] == "failed"
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)


def test_a_worker_killed_mid_job_fails_the_job_and_the_next_job_runs(twin, client, settings):
    # Thin strokes over a large photo, tiled at 64 px, diffused and mapped: seconds of work
    # for the tiny model, so the worker is surely killed in the middle.
    photo = encode(photo_array(1200, 1200))
    strokes = np.zeros((1200, 1200), np.uint8)
    strokes[::40] = 255
    photo_key, mask_key, _ = client.upload(photo, encode(strokes))
    started = client.start_job(photo_key, mask_key, strategy="tile")
    job_id = started.json()["id"]
    store = JobStore(twin.seaweed.client(), settings.results_bucket)
    deadline = time.monotonic() + 30
    while store.load(job_id)[0].status == JobStatus.QUEUED:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.02)
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()

    # Nobody reads the job: the message, back after the visibility timeout, fails it.
    while store.load(job_id)[0].status == JobStatus.RUNNING:
        assert time.monotonic() - killed < twin.config.queue_visibility_seconds + 5
        time.sleep(0.1)
    assert time.monotonic() - killed > settings.job_deadline_seconds - 1
    failed = client.wait(job_id, timeout=1)
    assert failed.status_code == 504, failed.text
    assert failed.json()["error"]["code"] == "inpainting_timed_out"
    assert "the photo and mask are kept" in failed.json()["error"]["message"]
    twin.seaweed.client().head_object(Bucket=settings.uploads_bucket, Key=photo_key)
    # A new execution environment takes the next job, with the same uploads if need be.
    again = client.inpaint(encode(photo_array()), encode(mask_array()))
    assert again.json()["status"] == "done", again.text


def test_an_idle_worker_that_dies_is_replaced_and_takes_the_next_job(twin, client):
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while twin.inpaint_function.worker_pids() in ([pid], []):
        assert time.monotonic() < deadline, "the dead environment was not replaced"
        time.sleep(0.1)
    started = time.monotonic()
    done = client.inpaint(encode(photo_array()), encode(mask_array()))
    assert done.json()["status"] == "done", done.text
    assert time.monotonic() - started < 10


def test_health_says_ready_only_once_a_new_worker_can_take_a_job(twin, client):
    """A replacement environment is alive a second or more before its init phase (the
    model's load) ends: `/health` says 503 until then. When it says 200, the new
    environment has the model loaded (mapped into its memory)."""
    # A job run to the end first: nothing that earlier tests queued is left ahead.
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    assert (
        client.wait(client.start_job(photo_key, mask_key).json()["id"]).json()["status"] == "done"
    )
    (pid,) = twin.inpaint_function.worker_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while twin.inpaint_function.worker_pids() in ([pid], []):  # the replacement starts
        assert time.monotonic() < deadline, "the dead environment was not replaced"
        time.sleep(0.01)
    while (health := client.request("GET", "/health")).status_code != 200:
        assert health.json()["error"]["code"] == "inpainting_unavailable", health.text
        assert time.monotonic() < deadline, "no environment became ready"
    (replacement,) = twin.inpaint_function.worker_pids()
    assert replacement != pid
    mapped = Path(f"/proc/{replacement}/maps").read_text()
    assert ".tflite" in mapped, "healthy before the environment had loaded the model"
    job_id = client.start_job(photo_key, mask_key).json()["id"]
    assert client.wait(job_id).json()["status"] == "done"


def test_health_says_when_no_worker_runs(twin, client, monkeypatch):
    assert client.request("GET", "/health").status_code == 200
    monkeypatch.setattr(twin.inpaint_function, "unavailable_workers", lambda: 1)
    down = client.request("GET", "/health")
    assert (down.status_code, down.json()["error"]["code"]) == (503, "inpainting_unavailable")
    assert "1 of 1 inpainting workers" in down.json()["error"]["message"]
    assert down.headers["Retry-After"] == "5"


def test_the_dead_letters_fail_an_unfinished_job_only(twin, client, settings):
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    failed_function = load_function("failed")
    context = LambdaContext("JobFailedFunction")
    store = JobStore(twin.seaweed.client(), settings.results_bucket)
    queued, _ = queued_job(twin, photo_key, mask_key)
    running, _ = queued_job(twin, photo_key, mask_key)
    store.replace(running.started(now_utc(), 60), store.load(running.id)[1])
    late, _ = queued_job(twin, photo_key, mask_key, deadline_seconds=-1)
    cases = {
        "queued": (queued, 503, "inpainting_unavailable"),
        "running": (running, 500, "inpainting_failed"),
        "past its deadline": (late, 504, "inpainting_timed_out"),
    }
    for case, (job, status, code) in cases.items():
        event = queue_event("failed.json", job.id)
        assert failed_function.handler(event, context) == [JobStatus.FAILED], case
        failed, _ = store.load(job.id)
        assert (failed.error.http_status, failed.error.code) == (status, code), case
        assert "the photo and mask are kept" in failed.error.message
        # The same dead letter again, or one of a job that finished, changes nothing.
        assert failed_function.handler(event, context) == [JobStatus.FAILED]
        assert store.load(job.id)[0].updated_at == failed.updated_at
    unknown = queue_event("failed.json", keys.new_id())
    assert failed_function.handler(unknown, context) == [None]


def test_a_message_no_delivery_takes_goes_to_the_dead_letters_after_three(twin, monkeypatch):
    """A job whose record cannot be read raises in every delivery: SQS hands the message
    out again after each visibility timeout, then to the dead letters' function."""
    dead = []
    monkeypatch.setattr(twin.inpaint_function, "on_dead_letter", dead.append)
    sent = time.monotonic()
    twin.inpaint_function.send(message_body(keys.new_id()))
    visibility = twin.config.queue_visibility_seconds
    while not dead:
        assert time.monotonic() - sent < 2 * visibility + 10, "never dead-lettered"
        time.sleep(0.1)
    assert time.monotonic() - sent > 2 * visibility - 1, "redelivered before its time"
    (record,) = dead[0]["Records"]
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["eventSourceARN"].endswith(":holefill-jobs-dead-letters")


def test_the_twins_queue_answers_as_sqs_does(twin):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_SQS", twin.inpaint_function.endpoint_url)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "test")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        queue = JobQueue(twin.inpaint_function.queue_url)
        elsewhere = JobQueue(twin.inpaint_function.queue_url + "-not-there", client=queue.client)
    # A job that does not exist: its deliveries end in the dead letters, which drop it.
    body = message_body(keys.new_id())
    answer = queue.client.send_message(QueueUrl=queue.queue_url, MessageBody=body)
    assert answer["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    with pytest.raises(queue.client.exceptions.QueueDoesNotExist):
        elsewhere.start(keys.new_id())
