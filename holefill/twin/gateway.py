"""The twin's one HTTP port: API Gateway for `/api`, and the web app's static files.

A request under `/api` becomes the REST proxy event API Gateway would send (the path
without `/api`, which plays the stage; single- and multi-value headers and query strings;
`image/*` bodies base64-encoded, as the stack's binary media types make them), and the
ApiFunction's answer becomes the HTTP response. The function runs in execution
environments of its own (`lambdas.LocalFunction`), several at once, so that a request
waiting on S3 holds up no other.

A request must arrive whole within `request_seconds` of the connection's last answer (or
its opening): a client that sends nothing, or trickles its bytes, is cut off rather than
left holding a thread.

Requests are throttled as on AWS, with the stack's numbers: first each client address
by WAF's per-IP rule (`PER_CLIENT_REQUESTS` in a trailing `PER_CLIENT_SECONDS`), then all
clients together by the stage's token bucket (`DEFAULT_RATE` a second, bursts of
`DEFAULT_BURST`); either answers 429 `too_many_requests` with `Retry-After`.

Everything else is `frontend/dist`, with `index.html` for the app's own routes, and
`/config.json`, which tells the app where the API is (in AWS the stack writes it next to
the site).
"""

import base64
import collections
import contextlib
import http.server
import json
import logging
import math
import mimetypes
import re
import socket
import threading
import time
import urllib.parse
import uuid

from holefill.twin.servers import BackgroundServer, declared_length

log = logging.getLogger("holefill.twin")
API_PREFIX = "/api"
# API Gateway refuses larger requests itself (a hard limit of REST APIs).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
# The throttles of `template.yaml` (a test keeps them equal): the stage's, for all clients,
DEFAULT_RATE = 20.0
DEFAULT_BURST = 50
# and the WAF rule's, per client address (`PerIpRequestsPer5Minutes`), with its Retry-After.
PER_CLIENT_REQUESTS = 1000
PER_CLIENT_SECONDS = 300.0
PER_CLIENT_RETRY_AFTER = 60
# How long a request may take to arrive; API Gateway's own is shorter still.
REQUEST_SECONDS = 10.0


class StageThrottle:
    """API Gateway's stage throttle: a token bucket of `rate` tokens a second, at most
    `burst` held, shared by every client."""

    def __init__(self, rate=DEFAULT_RATE, burst=DEFAULT_BURST):
        if rate <= 0 or burst < 1:
            raise ValueError(f"need rate > 0 and burst >= 1, got {rate} and {burst}.")
        self.rate, self.burst = float(rate), burst
        self.tokens, self.updated = float(burst), time.monotonic()
        self._lock = threading.Lock()

    def wait_seconds(self):
        """0 if a request may go now (and takes a token), else how long until one may."""
        now = time.monotonic()
        with self._lock:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


class PerClientLimit:
    """WAF's rate-based rule: at most `requests` from one address in any trailing
    `seconds`; beyond that, its requests are refused until the window has room."""

    def __init__(self, requests=PER_CLIENT_REQUESTS, seconds=PER_CLIENT_SECONDS):
        if requests < 1 or seconds <= 0:
            raise ValueError(f"need requests >= 1 and seconds > 0, got {requests} and {seconds}.")
        self.requests, self.seconds = requests, float(seconds)
        self._times = {}
        self._lock = threading.Lock()

    def allows(self, client):
        """Whether `client` may make a request now (which then counts)."""
        now = time.monotonic()
        with self._lock:
            times = self._times.setdefault(client, collections.deque())
            while times and times[0] <= now - self.seconds:
                times.popleft()
            if len(times) >= self.requests:
                return False
            times.append(now)
            return True


# A job id in a path gives access to the job's results: logs show the route instead.
_JOB_PATH = re.compile(r"/jobs/[^/?#]+")


class Gateway(BackgroundServer):
    """Serves the API and the web app on 127.0.0.1.

    Args:
        port: the port (`ports.ensure_free` checks it first for a clear message).
        invoke_api: returns the ApiFunction's answer to an event, or raises.
        static_dir: the built web app, or None when it is not built.
        throttle: the `StageThrottle` of all API requests.
        per_client: the `PerClientLimit` of each address's API requests, or None for none.
        workers_problem: returns why the inpainting cannot run now, or None; a healthy
            `/health` answers 503 with it (on AWS, Lambda provides the environments).
        request_seconds: how long a request may take to arrive.
    """

    def __init__(
        self,
        port,
        invoke_api,
        static_dir=None,
        throttle=None,
        per_client=None,
        workers_problem=None,
        request_seconds=REQUEST_SECONDS,
    ):
        super().__init__(("127.0.0.1", port), _RequestHandler)
        self.invoke_api = invoke_api
        self.static_dir = static_dir
        self.throttle = throttle or StageThrottle()
        self.per_client = per_client
        self.workers_problem = workers_problem or (lambda: None)
        self.request_seconds = request_seconds

    @property
    def url(self):
        host, port = self.server_address
        return f"http://{host}:{port}"


def proxy_event(method, target, headers, body, source_ip="127.0.0.1"):
    """The API Gateway REST proxy event of an HTTP request to the API.

    Args:
        method: "GET", "POST", ...
        target: the path and query string, without the stage ("/jobs?x=1").
        headers: `(name, value)` pairs, a name possibly repeated.
        body: the body's bytes.
    """
    parsed = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    multi_value_headers = {}
    for name, value in headers:
        multi_value_headers.setdefault(name, []).append(value)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    binary = content_type.startswith("image/")
    return {
        "resource": "/{proxy+}",
        "path": parsed.path or "/",
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_value_headers.items()},
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": parsed.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": API_PREFIX + (parsed.path or "/"),
            "stage": API_PREFIX.strip("/"),
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip},
        },
        "body": (base64.b64encode(body).decode() if binary else body.decode(errors="replace"))
        if body
        else None,
        "isBase64Encoded": binary and bool(body),
    }


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_one_request(self):
        self._arrival = threading.Timer(self.server.request_seconds, self._cut_off)
        self._arrival.start()
        try:
            super().handle_one_request()
        finally:
            self._arrival.cancel()

    def _cut_off(self):
        # The blocked read returns what came: the request is dropped, the thread freed.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def do_GET(self):
        self._dispatch()

    # http.server's names: every method goes to the same dispatch.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET  # noqa: N815

    def _dispatch(self):
        started = time.perf_counter()
        path = urllib.parse.urlsplit(self.path).path
        if "\x00" in urllib.parse.unquote(path):
            self._arrival.cancel()
            message = "a path cannot hold a NUL byte"
            status = self._json(400, {"error": {"code": "invalid_path", "message": message}})
        elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            status = self._api()
        else:
            self._arrival.cancel()
            status = self._static(path)
        milliseconds = (time.perf_counter() - started) * 1000
        route = _JOB_PATH.sub("/jobs/{job_id}", path)
        log.info("%s %s %d %.0f ms", self.command, route, status, milliseconds)

    def _api(self):
        per_client = self.server.per_client
        if per_client is not None and not per_client.allows(self.client_address[0]):
            message = "too many requests from this address: wait a minute, then retry"
            return self._throttled(message, PER_CLIENT_RETRY_AFTER)
        wait = self.server.throttle.wait_seconds()
        if wait:
            message = "too many requests just now: retry after the Retry-After seconds"
            return self._throttled(message, math.ceil(wait))
        # A body whose end cannot be told from its length would leave the rest of the
        # connection's bytes to be read as the next request: refused, and closed.
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            message = "send the body with a Content-Length, not in chunks"
            return self._json(411, {"error": {"code": "length_required", "message": message}})
        length = declared_length(self.headers)
        if length is None:
            self.close_connection = True
            declared = self.headers.get("Content-Length")
            message = f"Content-Length must be a number of bytes, got {declared!r}"
            return self._json(
                400, {"error": {"code": "invalid_content_length", "message": message}}
            )
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            message = f"the request has {length} bytes; API Gateway takes {MAX_REQUEST_BYTES}"
            return self._json(413, {"error": {"code": "request_too_large", "message": message}})
        body = self.rfile.read(length)
        self._arrival.cancel()
        if len(body) < length:
            self.close_connection = True
            return 408  # cut off: there is no connection left to answer on
        target = self.path[len(API_PREFIX) :] or "/"
        event = proxy_event(
            self.command, target, self.headers.items(), body, self.client_address[0]
        )
        try:
            response = self.server.invoke_api(event)
            problem = self.server.workers_problem() if target == "/health" else None
            if problem and response["statusCode"] == 200:
                body = {"error": {"code": "inpainting_unavailable", "message": problem}}
                return self._json(503, body, {"Retry-After": "5"})
        except Exception:
            # What API Gateway answers when the function itself fails.
            log.exception("the ApiFunction raised")
            message = "the API function failed: see the log"
            return self._json(502, {"error": {"code": "bad_gateway", "message": message}})
        payload = response.get("body") or ""
        payload = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        self.send_response(response["statusCode"])
        for name, values in (response.get("multiValueHeaders") or {}).items():
            for value in values:
                self.send_header(name, value)
        for name, value in (response.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        return response["statusCode"]

    def _throttled(self, message, retry_after):
        # The body is not read: the connection cannot be reused.
        self.close_connection = True
        body = {"error": {"code": "too_many_requests", "message": message}}
        return self._json(429, body, {"Retry-After": str(retry_after)})

    def end_headers(self):
        if self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def _own_headers(self, content_type, length):
        """The headers of what the gateway answers itself (the ApiFunction sets its own):
        nothing is to be read as another type than it says."""
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")

    def _static(self, path):
        if path == "/config.json":
            # The twin's own address, never the request's Host header, which anyone sets.
            return self._json(200, {"apiUrl": self.server.url + API_PREFIX})
        static_dir = self.server.static_dir
        if static_dir is None:
            message = "the web app is not built (frontend/dist is missing): only /api is served"
            return self._json(404, {"error": {"code": "web_app_not_built", "message": message}})
        file = (static_dir / urllib.parse.unquote(path).lstrip("/")).resolve()
        if not file.is_relative_to(static_dir.resolve()):
            return self._json(404, {"error": {"code": "not_found", "message": path}})
        if not file.is_file():
            # The app's own routes ("/jobs/123") are index.html; missing assets are 404.
            if "." in file.name:
                return self._json(404, {"error": {"code": "not_found", "message": path}})
            file = static_dir / "index.html"
        content = file.read_bytes()
        self.send_response(200)
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._own_headers(content_type, len(content))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        return 200

    def _json(self, status, body, headers=None):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self._own_headers("application/json", len(payload))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        return status

    def log_message(self, format, *args):
        pass  # `_dispatch` logs one line per request
