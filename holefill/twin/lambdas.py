"""A local Lambda: execution environments as worker processes, fed by an SQS queue's
event source (`QueuedLambda`) or invoked synchronously, as API Gateway invokes a proxy
integration (`LocalFunction`).

The ApiFunction queues each job with boto3's `sqs.send_message`; with
`AWS_ENDPOINT_URL_SQS` set to `endpoint_url`, that request arrives here and is answered as
SQS does. The event source hands each message, as an SQS event of one record, to a free
environment: the environments are its `MaximumConcurrency`. Each worker process is one
execution environment: it imports the function's handler module once (the model loads
then) and runs one event at a time. As in Lambda, an invocation that runs past the timeout
has its environment killed, and a crashed environment is replaced (an idle one as soon as
it dies, so that no event is handed to it). As in SQS, a message whose invocation did not
return comes back after the visibility timeout, and after `max_receives` deliveries goes
to the dead letters. An environment counts as available only once its init phase has
ended, and it acknowledges each event it takes: one that dies before that never had the
event, which goes to a fresh one instead.

Environments are processes, not threads, as in Lambda: a handler module's state (and
Powertools' resolver keeps the current event on a class) is its environment's alone.
"""

import concurrent.futures
import dataclasses
import hashlib
import http.server
import json
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
import uuid

from holefill.twin.children import die_with_parent
from holefill.twin.functions import LambdaContext, load_function
from holefill.twin.servers import BackgroundServer
from holefill_service.keys import log_tag

log = logging.getLogger("holefill.twin")
_STOP = object()
# The account in the twin's queue URLs.
ACCOUNT = "000000000000"
INIT_TIMEOUT_SECONDS = 60
# How often an idle worker checks that its environment is alive.
WATCH_SECONDS = 0.5
# How long a live environment may take to acknowledge an event it was handed.
TAKE_SECONDS = 10


@dataclasses.dataclass
class _Message:
    id: str
    body: str
    sent_ms: int
    receives: int = 0


class QueuedLambda:
    """One function behind an SQS queue, through a local SQS API (`SendMessage`).

    Args:
        module: the folder in `functions/` ("inpaint").
        function_name: the name its logs and context use.
        queue_name: the queue's name, the last part of `queue_url`.
        environment: the function's environment variables.
        workers: execution environments running at once (the event source's
            `MaximumConcurrency`).
        timeout_seconds: the function's timeout.
        visibility_seconds: the queue's visibility timeout: how long after a delivery
            whose invocation did not return the message is delivered again.
        max_receives: the deliveries after which such a message goes to the dead letters
            (the redrive policy's `maxReceiveCount`).
        on_dead_letter: called with an SQS event of the dead letter (the function that
            reads the dead-letter queue).
    """

    def __init__(
        self,
        module,
        function_name,
        queue_name,
        environment,
        *,
        workers=1,
        timeout_seconds=300,
        visibility_seconds=360,
        max_receives=3,
        on_dead_letter=None,
    ):
        self.module = module
        self.function_name = function_name
        self.queue_name = queue_name
        self.environment = dict(environment)
        self.timeout_seconds = timeout_seconds
        self.visibility_seconds = visibility_seconds
        self.max_receives = max_receives
        self.on_dead_letter = on_dead_letter
        self.events = queue.Queue()
        self.workers = [_Worker(self, index) for index in range(workers)]
        self.server = None

    @property
    def endpoint_url(self):
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    @property
    def queue_url(self):
        return f"{self.endpoint_url}/{ACCOUNT}/{self.queue_name}"

    def send(self, body):
        """Queues a message, as `SendMessage` does; returns its id."""
        message = _Message(str(uuid.uuid4()), body, int(time.time() * 1000))
        self.events.put(message)
        return message.id

    def start(self):
        """Starts the workers (each loads the model) and the SQS API on a free port."""
        for worker in self.workers:
            worker.start()
        self.server = BackgroundServer(("127.0.0.1", 0), _sqs_handler(self)).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.stop()
        for _ in self.workers:
            self.events.put(_STOP)
        for worker in self.workers:
            worker.stop()

    def unavailable_workers(self):
        """How many execution environments cannot take an event now: dead, failing to
        start, or still in their init phase."""
        return sum(not worker.available() for worker in self.workers)

    def worker_pids(self):
        """The process ids of the running execution environments (for fault tests)."""
        return [worker.process.pid for worker in self.workers if worker.process is not None]


class LocalFunction:
    """One function, invoked synchronously (API Gateway's proxy integration): a call takes
    a free execution environment, or waits for one.

    Each environment is started, run and replaced by a thread of its own that lives as
    long as the function: a process dies with the thread that started it
    (`PR_SET_PDEATHSIG`), which must not be a request's.

    Args:
        module: the folder in `functions/` ("api").
        function_name: the name its logs and context use.
        environment: the function's environment variables.
        environments: execution environments at once (requests served at once).
        timeout_seconds: the function's timeout.
    """

    def __init__(self, module, function_name, environment, *, environments, timeout_seconds):
        self.module = module
        self.function_name = function_name
        self.environment = dict(environment)
        self.timeout_seconds = timeout_seconds
        self.workers = [_Worker(self, index) for index in range(environments)]
        self._inboxes = {worker: queue.SimpleQueue() for worker in self.workers}
        self._free = queue.SimpleQueue()

    def start(self):
        """Starts every environment at once (each imports the handler module)."""
        started = []
        for worker in self.workers:
            ready = concurrent.futures.Future()
            threading.Thread(target=self._serve, args=(worker, ready), daemon=True).start()
            started.append(ready)
        for ready in started:
            ready.result()
        for worker in self.workers:
            self._free.put(worker)
        return self

    def stop(self):
        for inbox in self._inboxes.values():
            inbox.put(_STOP)
        for worker in self.workers:
            worker.stop()

    def invoke(self, event):
        """The handler's result for `event`; raises `RuntimeError` when it raised, timed
        out or its environment died (API Gateway then answers 502)."""
        worker = self._free.get()
        try:
            answer = concurrent.futures.Future()
            self._inboxes[worker].put((event, answer))
            outcome = answer.result()
        finally:
            self._free.put(worker)
        if outcome[0] != "ok":
            raise RuntimeError(f"{self.function_name}: {outcome[0]}: {outcome[1]}")
        return outcome[1]

    def _serve(self, worker, ready):
        try:
            worker.start_environment()
        except Exception as error:
            ready.set_exception(error)
            return
        ready.set_result(None)
        while (item := self._inboxes[worker].get()) is not _STOP:
            event, answer = item
            try:
                answer.set_result(worker.invoke(event))
            except Exception as error:  # the caller waits on the answer: it gets one
                log.exception("%s: the environment could not be run", self.function_name)
                answer.set_result(("unstarted", repr(error)))


class _Worker:
    """A thread that feeds one execution environment (a process) and supervises it."""

    def __init__(self, owner, index):
        self.owner = owner
        self.index = index
        self.process = self.connection = None
        self.ready = False  # the environment's init phase has ended
        self.thread = threading.Thread(target=self._run, daemon=True)

    def available(self):
        process = self.process
        return self.ready and process is not None and process.is_alive()

    def start(self):
        self.start_environment()
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.thread.join(timeout=self.owner.timeout_seconds + 5)
        self._kill()

    def start_environment(self):
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
        self.ready = True

    def invoke(self, event):
        """Runs `event` in this environment; returns ("ok", result), ("error", message),
        ("timeout", None), ("died", exit status) or ("unstarted", why). One that timed
        out or died is replaced."""
        try:
            self._send(event)
        except RuntimeError as error:
            return ("unstarted", str(error))
        outcome = self._receive(self.owner.timeout_seconds)
        if outcome is None or outcome[0] == "died":
            self._replace()
        return outcome or ("timeout", None)

    def _run(self):
        while (message := self._next_event()) is not _STOP:
            name, described = self.owner.function_name, _described(message)
            message.receives += 1
            started = time.monotonic()
            outcome = self.invoke(_sqs_event(self.owner, message, self.owner.queue_name))
            seconds = time.monotonic() - started
            if outcome[0] == "ok":
                log.info("%s: %s -> %s in %.2f s", name, described, outcome[1], seconds)
                continue
            if outcome[0] == "unstarted":
                log.error(
                    "%s: could not start an environment for %s: %s", name, described, outcome[1]
                )
            elif outcome[0] == "timeout":
                log.warning("%s: timed out after %.0f s: %s", name, seconds, described)
            elif outcome[0] == "died":
                log.warning("%s: the environment died running %s", name, described)
            else:
                log.warning("%s: %s raised %s", name, described, outcome[1])
            self._not_returned(message)

    def _next_event(self):
        """The next event; meanwhile an environment that died idle is replaced at once."""
        while True:
            try:
                return self.owner.events.get(timeout=WATCH_SECONDS)
            except queue.Empty:
                if self.process is None:
                    self._replace()  # the last start failed (it died as it loaded)
                elif not self.process.is_alive():
                    log.warning("%s: an idle environment died; replacing it", self.process.name)
                    self._replace()

    def _replace(self):
        """A fresh environment in place of the current one, so that the next event finds
        one ready (one that cannot start is tried again when an event comes)."""
        self._kill()
        try:
            self.start_environment()
        except RuntimeError as error:
            log.error("%s: %s", self.owner.function_name, error)

    def _send(self, event):
        """Hands `event` to a live environment, starting one if there is none, and waits
        for it to say it took the event; one that died first (since it was last seen, or
        as the event was sent) is replaced and the event handed to the new one."""
        for _ in range(2):
            if not self.available():
                self._kill()
                self.start_environment()
            try:
                self.connection.send(event)
            except OSError:  # BrokenPipeError: the environment died just now
                self._kill()
                continue
            if self._receive(TAKE_SECONDS) == ("taken", None):
                return
            self._kill()
        raise RuntimeError("the execution environment died twice before it took the event")

    def _not_returned(self, message):
        """The message comes back after the visibility timeout, or after its last
        delivery goes to the dead letters."""
        owner = self.owner
        if message.receives < owner.max_receives:
            timer = threading.Timer(owner.visibility_seconds, owner.events.put, (message,))
            timer.daemon = True
            timer.start()
            return
        log.warning("%s: %s goes to the dead letters", owner.function_name, _described(message))
        if owner.on_dead_letter is None:
            return
        try:
            owner.on_dead_letter(_sqs_event(owner, message, f"{owner.queue_name}-dead-letters"))
        except Exception:
            log.exception("%s: the dead letters' function failed", owner.function_name)

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
        self.ready = False
        self.process.kill()
        self.process.join()
        self.connection.close()
        self.process = self.connection = None


def _described(message):
    """How logs name a message: never by its job id, which gives access to the results."""
    try:
        return f"job {log_tag(str(json.loads(message.body)['job_id']))}"
    except (ValueError, TypeError, KeyError):
        return f"message {message.id}"


def _sqs_event(owner, message, queue_name):
    """The event Lambda's SQS event source sends for one message of `queue_name`."""
    region = owner.environment.get("AWS_REGION", "us-east-1")
    return {
        "Records": [
            {
                "messageId": message.id,
                "receiptHandle": f"{message.id}-{message.receives}",
                "body": message.body,
                "attributes": {
                    "ApproximateReceiveCount": str(message.receives),
                    "SentTimestamp": str(message.sent_ms),
                    "ApproximateFirstReceiveTimestamp": str(message.sent_ms),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue_name}",
                "awsRegion": region,
            }
        ]
    }


def _execution_environment(connection, module, function_name, environment, timeout):
    """A worker process: the init phase, then one invocation per event received."""
    die_with_parent()
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
        connection.send(("taken", None))
        try:
            result = handler(event, LambdaContext(function_name, timeout_seconds=timeout))
            connection.send(("ok", result))
        except Exception as error:
            traceback.print_exc()
            connection.send(("error", f"{type(error).__name__}: {error}"))


def _sqs_handler(owner):
    class SqsHandler(http.server.BaseHTTPRequestHandler):
        """SQS's JSON API, `SendMessage` only (what the ApiFunction calls)."""

        def do_POST(self):
            payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("X-Amz-Target") != "AmazonSQS.SendMessage":
                message = "the local twin's queue answers SendMessage only"
                self._answer(
                    400, {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": message}
                )
                return
            request = json.loads(payload)
            if request.get("QueueUrl") != owner.queue_url:
                message = "The specified queue does not exist."
                self._answer(
                    400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": message}
                )
                return
            body = request["MessageBody"]
            message_id = owner.send(body)
            self._answer(
                200,
                {
                    "MessageId": message_id,
                    "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest(),
                },
            )

        def _answer(self, status, answer):
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            pass  # each invocation is logged when it ends

    return SqsHandler
