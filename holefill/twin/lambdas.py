"""A local Lambda for asynchronous invocations: the Invoke API and worker processes.

The ApiFunction starts inpainting with boto3's `lambda.invoke(InvocationType="Event")`;
with `AWS_ENDPOINT_URL_LAMBDA` set to `endpoint_url`, that request arrives here, is
queued, and answered 202 as Lambda does. Each worker process is one execution
environment: it imports the function's handler module once (the model loads then) and
runs one event at a time. As in Lambda, an invocation that runs past the timeout has its
environment killed, a crashed environment is replaced, and the event is not retried
(the stack sets `MaximumRetryAttempts: 0`): the job record's deadline makes the job fail.
"""

import http.server
import json
import logging
import multiprocessing
import os
import queue
import re
import signal
import threading
import time
import traceback

from holefill.twin.functions import LambdaContext, load_function

log = logging.getLogger("holefill.twin")
_INVOKE_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
_STOP = object()
INIT_TIMEOUT_SECONDS = 60


class LocalLambda:
    """One function, invoked asynchronously through a local Invoke API.

    Args:
        module: the folder in `functions/` ("inpaint").
        function_name: the name that invocations use.
        environment: the function's environment variables.
        workers: execution environments running at once (the reserved concurrency).
        timeout_seconds: the function's timeout.
    """

    def __init__(self, module, function_name, environment, *, workers=1, timeout_seconds=300):
        self.module = module
        self.function_name = function_name
        self.environment = dict(environment)
        self.timeout_seconds = timeout_seconds
        self.events = queue.Queue()
        self.workers = [_Worker(self, index) for index in range(workers)]
        self.server = None

    @property
    def endpoint_url(self):
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def start(self):
        """Starts the workers (each loads the model) and the Invoke API on a free port."""
        for worker in self.workers:
            worker.start()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _invoke_handler(self))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for _ in self.workers:
            self.events.put(_STOP)
        for worker in self.workers:
            worker.stop()

    def worker_pids(self):
        """The process ids of the running execution environments (for fault tests)."""
        return [worker.process.pid for worker in self.workers if worker.process is not None]


class _Worker:
    """A thread that feeds one execution environment (a process) and supervises it."""

    def __init__(self, owner, index):
        self.owner = owner
        self.index = index
        self.process = self.connection = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._start_process()
        self.thread.start()

    def stop(self):
        self.thread.join(timeout=self.owner.timeout_seconds + 5)
        self._kill()

    def _start_process(self):
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_execution_environment,
            args=(
                child,
                self.owner.module,
                self.owner.function_name,
                self.owner.environment,
                self.owner.timeout_seconds,
            ),
            name=f"{self.owner.function_name}-{self.index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        # The handler module loads the model at import, as Lambda's init phase does; that
        # phase has its own limit, which a short function timeout must not cut on a
        # loaded machine.
        ready = self._receive(max(self.owner.timeout_seconds, INIT_TIMEOUT_SECONDS))
        if ready != ("ready", None):
            self._kill()
            raise RuntimeError(f"{self.owner.function_name} could not start: {ready}")

    def _run(self):
        while (event := self.owner.events.get()) is not _STOP:
            if self.process is None:
                try:
                    self._start_process()
                except RuntimeError as error:
                    log.error("%s: dropped %s: %s", self.owner.function_name, event, error)
                    continue
            started = time.monotonic()
            self.connection.send(event)
            outcome = self._receive(self.owner.timeout_seconds)
            seconds = time.monotonic() - started
            if outcome is None:
                log.warning("%s: timed out after %.0f s: %s", self.process.name, seconds, event)
                self._kill()
            elif outcome[0] == "died":
                log.warning("%s: the environment died running %s", self.process.name, event)
                self._kill()
            elif outcome[0] == "error":
                log.warning("%s: %s raised %s", self.process.name, event, outcome[1])
            else:
                log.info("%s: %s -> %s in %.2f s", self.process.name, event, outcome[1], seconds)

    def _receive(self, timeout):
        """The environment's next message; ("died", code) if it exits; None at timeout."""
        try:
            if self.connection.poll(timeout):
                return self.connection.recv()
        except (EOFError, OSError):
            pass
        else:
            return None
        self.process.join(timeout=5)
        return ("died", self.process.exitcode)

    def _kill(self):
        if self.process is None:
            return
        self.process.kill()
        self.process.join()
        self.connection.close()
        self.process = self.connection = None


def _execution_environment(connection, module, function_name, environment, timeout):
    """A worker process: the init phase, then one invocation per event received."""
    # Ctrl-C reaches the whole process group: the twin stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(environment)
    try:
        handler = load_function(module).handler
    except Exception as error:
        connection.send(("error", f"{type(error).__name__}: {error}"))
        return
    connection.send(("ready", None))
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        try:
            result = handler(event, LambdaContext(function_name, timeout_seconds=timeout))
            connection.send(("ok", result))
        except Exception as error:
            traceback.print_exc()
            connection.send(("error", f"{type(error).__name__}: {error}"))


def _invoke_handler(owner):
    class InvokeHandler(http.server.BaseHTTPRequestHandler):
        """Lambda's Invoke API, for `InvocationType="Event"` only."""

        def do_POST(self):
            match = _INVOKE_PATH.fullmatch(self.path.split("?")[0])
            payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if match is None or match["name"] != owner.function_name:
                self._error(404, "ResourceNotFoundException", f"no function at {self.path}")
            elif self.headers.get("X-Amz-Invocation-Type") != "Event":
                message = "the local twin runs asynchronous invocations (Event) only"
                self._error(400, "InvalidParameterValueException", message)
            else:
                owner.events.put(json.loads(payload))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def _error(self, status, error_type, message):
            body = json.dumps({"Type": "User", "message": message}).encode()
            self.send_response(status)
            self.send_header("X-Amzn-ErrorType", error_type)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass  # each invocation is logged when it ends

    return InvokeHandler
