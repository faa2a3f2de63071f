"""The local twin's gateway in front of the API, against a real S3 (SeaweedFS): bodies it
cannot delimit and idle or trickling connections are cut off, a hung S3 holds up only the
routes that need it, the web app's config names the twin, concurrent requests each get their
own answer, and the throttles are the stack's."""

import collections
import contextlib
import json
import os
import re
import signal
import socket
import sys
import threading
import time

import requests
from service_helpers import encode, mask_array, photo_array

from holefill.twin.functions import REPO_ROOT
from holefill_service import keys


def raw_request(twin, data, timeout=5):
    """Sends `data` on a fresh connection; the answer's status line and headers, as text."""
    host, port = twin.gateway.server_address
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.decode(errors="replace")


def test_the_gateway_refuses_bodies_it_cannot_delimit(twin):
    post = b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    started = time.monotonic()
    assert raw_request(twin, post + b"Content-Length: -1\r\n\r\n{}").startswith("HTTP/1.1 400")
    assert raw_request(twin, post + b"Content-Length: abc\r\n\r\n{}").startswith("HTTP/1.1 400")
    superscript = post + "Content-Length: \u00b2\r\n\r\n{}".encode("latin-1")
    assert raw_request(twin, superscript).startswith("HTTP/1.1 400")
    nul = b"GET /%00index.html HTTP/1.1\r\nHost: x\r\n\r\n"
    assert raw_request(twin, nul).startswith("HTTP/1.1 400")
    chunked = (
        post + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /api/health HTTP/1.1"
    )
    answer = raw_request(twin, chunked)
    assert answer.startswith("HTTP/1.1 411") and "Connection: close" in answer
    assert time.monotonic() - started < 5, "none of them may hang"


def test_idle_and_trickling_connections_are_cut_off(twin):
    """Each connection holds a thread: one that sends nothing, or a byte now and then,
    is closed once `request_seconds` have passed without a whole request."""
    host, port = twin.gateway.server_address
    connections = [socket.create_connection((host, port), timeout=10) for _ in range(30)]
    started = time.monotonic()

    def trickle(connection):
        with contextlib.suppress(OSError):
            for byte in b"GET /api/health HTTP/1.1\r\nX-Padding: " + b"x" * 100:
                connection.sendall(bytes([byte]))
                time.sleep(0.25)

    threading.Thread(target=trickle, args=(connections[0],), daemon=True).start()
    for connection in connections:
        with connection:
            try:
                closed = connection.recv(1) == b""
            except ConnectionResetError:
                closed = True
            assert closed, "the connection was answered without a whole request"
    seconds = time.monotonic() - started
    assert seconds < twin.config.request_seconds + 3, f"closed after {seconds:.1f} s"
    assert requests.get(twin.api_url + "/limits", timeout=5).status_code == 200


def test_a_hung_s3_is_answered_within_seconds_and_holds_up_nothing_else(twin, client):
    """SeaweedFS stopped mid-flight (it accepts connections, then never answers): every
    route that needs S3 says so within 10 s, while the others answer at once."""
    photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
    job = client.start_job(photo_key, mask_key).json()
    client.wait(job["id"])
    needs_s3 = {
        "health": lambda: client.request("GET", "/health"),
        "job": lambda: client.get_job(job["id"]),
        "new job": lambda: client.start_job(photo_key, mask_key),
    }
    answers, seconds = {}, {}

    def call(name, request):
        started = time.monotonic()
        answers[name] = request()
        seconds[name] = time.monotonic() - started

    os.kill(twin.seaweed.process.pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=call, args=item) for item in needs_s3.items()]
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # all three are waiting on S3 now
        call("limits", lambda: client.request("GET", "/limits"))
        call("web app", lambda: requests.get(twin.url + "/config.json", timeout=5))
        for thread in threads:
            thread.join(timeout=30)
    finally:
        os.kill(twin.seaweed.process.pid, signal.SIGCONT)
    assert answers["limits"].status_code == answers["web app"].status_code == 200
    assert seconds["limits"] < 2 and seconds["web app"] < 2, seconds
    for name in needs_s3:
        assert answers[name].status_code == 503, (name, answers[name].text)
        assert answers[name].json()["error"]["code"] == "storage_unavailable"
        assert answers[name].headers["Retry-After"].isdigit()
        assert seconds[name] < 10, (name, seconds)
    assert client.request("GET", "/health").status_code == 200


def test_config_names_the_twin_whatever_the_host_header(twin):
    answer = requests.get(twin.url + "/config.json", headers={"Host": "evil.example"}, timeout=5)
    assert answer.json() == {"apiUrl": twin.api_url}
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def raw_get(twin, path, source):
    """`GET path` from the address `source` (any of 127.0.0.0/8): its status and headers."""
    host, port = twin.gateway.server_address
    with socket.create_connection((host, port), timeout=5, source_address=(source, 0)) as raw:
        raw.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    status = int(head.split()[1])
    headers = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
    return status, headers, body


def test_concurrent_requests_each_get_their_own_answer(twin, client):
    """The ApiFunction's environments serve at once, each with state of its own (Powertools'
    resolver keeps the current event on a class): no request sees another's headers."""
    jobs = []
    for _ in range(3):
        photo_key, mask_key, _ = client.upload(encode(photo_array()), encode(mask_array()))
        jobs.append(client.start_job(photo_key, mask_key).json())
    answers = collections.Counter()

    def poll(job):
        session = requests.Session()
        for _ in range(40):
            answer = session.get(
                f"{twin.api_url}/jobs/{job['id']}",
                headers={keys.JOB_SECRET_HEADER: job["job_secret"]},
                timeout=30,
            )
            answers[(answer.status_code, answer.json().get("id") == job["id"])] += 1

    threads = [threading.Thread(target=poll, args=(job,)) for job in jobs * 2]
    # Threads of this process (the gateway's among them) switch often: a state shared
    # between requests would show.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert answers == {(200, True): 240}, answers


def test_the_twin_throttles_as_the_stack_does(twin, client, monkeypatch):
    """Each address by the WAF rule's numbers, then every client together by the stage's,
    as `template.yaml` sets them."""
    from holefill.twin import gateway

    template = (REPO_ROOT / "template.yaml").read_text()
    assert float(re.search(r"ThrottlingRateLimit: (\d+)", template)[1]) == gateway.DEFAULT_RATE
    assert int(re.search(r"ThrottlingBurstLimit: (\d+)", template)[1]) == gateway.DEFAULT_BURST
    waf = re.search(r"PerIpRequestsPer5Minutes:\n(?:\s+\w+:.*\n)*?\s+Default: (\d+)", template)
    assert int(waf[1]) == gateway.PER_CLIENT_REQUESTS
    assert gateway.PER_CLIENT_SECONDS == 300
    assert f'Value: "{gateway.PER_CLIENT_RETRY_AFTER}"' in template

    monkeypatch.setattr(twin.gateway, "per_client", gateway.PerClientLimit(requests=2, seconds=60))
    answers = [raw_get(twin, "/api/health", "127.0.0.2") for _ in range(3)]
    assert [status for status, _, _ in answers] == [200, 200, 429]
    assert json.loads(answers[2][2])["error"]["code"] == "too_many_requests"
    assert answers[2][1]["Retry-After"] == str(gateway.PER_CLIENT_RETRY_AFTER)
    # Another address is not held up by the first one's requests.
    assert raw_get(twin, "/api/health", "127.0.0.3")[0] == 200

    monkeypatch.setattr(twin.gateway, "per_client", None)
    # A token every 2 s, so that none comes back while the three requests are answered.
    monkeypatch.setattr(twin.gateway, "throttle", gateway.StageThrottle(rate=0.5, burst=2))
    sources = ("127.0.0.4", "127.0.0.5", "127.0.0.6")
    answers = [raw_get(twin, "/api/health", source) for source in sources]
    assert [status for status, _, _ in answers] == [200, 200, 429], "the stage's is for all"
    assert 1 <= int(answers[2][1]["Retry-After"]) <= 2
    # The client waits as told and gets through.
    started = time.monotonic()
    assert client.request("GET", "/health").status_code == 200
    assert time.monotonic() - started < 8
