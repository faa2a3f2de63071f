"""Faults of the twin as a user's machine sees them: the twin killed outright, restarted on
the same data, and S3 gone. The twin runs as `make run` runs it, in a process of its own."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from service_helpers import QUEUED_SECRET, encode, mask_array, photo_array, queued_job

from holefill.twin.client import HolefillClient
from holefill.twin.functions import REPO_ROOT
from holefill.twin.ports import free_port
from holefill_service.jobs import JobStore

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
START_SECONDS = 120


def start_twin(model, data, port, s3_port):
    arguments = ["--model", model, "--data", data, "--port", port, "--s3-port", s3_port]
    process = subprocess.Popen(
        [sys.executable, "-m", "holefill.twin", *map(str, arguments), "--workers", "1"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the twin on port {port} exited: {process.stdout.read()[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                return process
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    process.kill()
    pytest.fail("the twin did not start")


def children_of(pid):
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        # A thread may end between the listing and the read.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def s3_of(data, s3_port):
    identity = json.loads((data / "seaweedfs" / "s3-identity.json").read_text())
    credentials = identity["identities"][0]["credentials"][0]
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_port}",
        region_name="us-east-1",
        aws_access_key_id=credentials["accessKey"],
        aws_secret_access_key=credentials["secretKey"],
    )


def test_a_killed_twin_takes_its_children_and_a_restart_resumes_its_jobs(tiny_model, tmp_path):
    data, port, s3_port = tmp_path / "twin", free_port(), free_port()
    first = start_twin(tiny_model, data, port, s3_port)
    client = HolefillClient(f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{port}")
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    # A job that the killed run had queued but not yet run: its record is all that is left.
    store = JobStore(s3_of(data, s3_port), "holefill-results")
    queued, _ = queued_job(None, photo_key, mask_key, deadline_seconds=300, store=store)
    secret = QUEUED_SECRET
    children = children_of(first.pid)
    assert len(children) >= 2, "SeaweedFS and a worker"

    first.kill()
    first.wait()
    deadline = time.monotonic() + 10
    while any(alive(child) for child in children):
        assert time.monotonic() < deadline, [child for child in children if alive(child)]
        time.sleep(0.1)

    second = start_twin(tiny_model, data, port, s3_port)
    try:
        client.job_secrets[queued.id] = secret
        assert client.wait(queued.id, timeout=30).json()["status"] == "done"

        # S3 gone: every call says so at once, with when to retry.
        os.kill(int((data / "seaweedfs" / "weed.pid").read_text()), signal.SIGKILL)
        started = time.monotonic()
        health = requests.get(f"http://127.0.0.1:{port}/api/health", timeout=30)
        assert (health.status_code, health.json()["error"]["code"]) == (503, "storage_unavailable")
        assert health.headers["Retry-After"].isdigit()
        upload = client.request("POST", "/uploads", json={"photo_content_type": "image/png"})
        assert (upload.status_code, upload.json()["error"]["code"]) == (503, "storage_unavailable")
        job = client.get_job(queued.id, secret=secret)
        assert (job.status_code, job.json()["error"]["code"]) == (503, "storage_unavailable")
        assert time.monotonic() - started < 20
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0


def test_a_stale_pid_file_stops_only_the_process_it_names(tmp_path):
    from holefill.twin.children import stop_stale

    sleeper = subprocess.Popen(["sleep", "60"])
    pid_file = tmp_path / "weed.pid"
    # Just after exec, /proc shows an empty command line for a moment.
    while not Path(f"/proc/{sleeper.pid}/cmdline").read_bytes():
        time.sleep(0.01)
    try:
        pid_file.write_text(str(sleeper.pid))
        assert stop_stale(pid_file, "weed") is None, "a reused pid is left alone"
        assert sleeper.poll() is None and not pid_file.exists()
        pid_file.write_text(str(sleeper.pid))
        assert stop_stale(pid_file, "sleep") == sleeper.pid
        assert sleeper.wait(timeout=10) == -signal.SIGTERM
    finally:
        sleeper.kill()
    assert stop_stale(pid_file, "sleep") is None, "no pid file: nothing to stop"
