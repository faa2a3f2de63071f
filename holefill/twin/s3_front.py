"""The twin's S3 port: SeaweedFS's S3 behind a front that refuses what AWS S3 refuses and
SeaweedFS lets through.

- A presigned POST with a form field that no condition of its policy names (`acl`,
  `success_action_redirect`, `Cache-Control`, `tagging`, ...) is refused 403
  `AccessDenied` "Invalid according to Policy: Extra input fields", as S3 refuses it.
  SeaweedFS checks the conditions themselves (key, content type, size, expiry).
- A CORS preflight from an origin that no rule allows is refused 403, where SeaweedFS
  drops the connection.

Everything else passes through as it came, the Host header included, so that SigV4
signatures hold; the answer comes back as SeaweedFS gave it.
"""

import base64
import binascii
import contextlib
import email.parser
import email.policy
import http.client
import http.server
import json
import logging
import urllib.parse
from xml.sax.saxutils import escape

from holefill.twin.servers import BackgroundServer, declared_length

log = logging.getLogger("holefill.twin")
# Fields S3 takes in a POST form whatever its policy says.
UNCONDITIONED_FIELDS = ("policy", "x-amz-signature", "file")
# Headers of one hop, which a proxy does not pass on (RFC 9110, 7.6.1).
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
    | {"proxy-connection", "proxy-authenticate", "proxy-authorization"}
)
# What SeaweedFS gets to answer in: past the clients' own deadlines.
UPSTREAM_SECONDS = 120
# Bodies are held whole (a form must be read to be checked): a result of 50 MP fits.
MAX_BODY_BYTES = 1 << 30


class S3Front(BackgroundServer):
    """Serves `port` on 127.0.0.1 in front of an S3 at `upstream_port`.

    Args:
        allowed_origins: the web origins the buckets' CORS rules allow.
        max_body_bytes: the largest request body passed on.
    """

    def __init__(self, port, upstream_port, allowed_origins, max_body_bytes=MAX_BODY_BYTES):
        super().__init__(("127.0.0.1", port), _FrontHandler)
        self.upstream_port = upstream_port
        self.allowed_origins = frozenset(allowed_origins)
        self.max_body_bytes = max_body_bytes


def extra_post_fields(content_type, body):
    """The fields of a POST form that its policy does not name, or None for a body that
    is no presigned POST's form (SeaweedFS answers those itself)."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    if not message.is_multipart():
        return None
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is not None:
            fields[name.lower()] = part
    if "policy" not in fields:
        return None
    try:
        policy = json.loads(base64.b64decode(fields["policy"].get_content(), validate=True))
    except (binascii.Error, ValueError, KeyError, LookupError):
        return None  # SeaweedFS refuses a policy it cannot read
    named = {"bucket"}
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            named.update(name.lower() for name in condition)
        elif (
            isinstance(condition, list)
            and len(condition) == 3
            and condition[0] != ("content-length-range")
        ):
            named.add(str(condition[1]).lstrip("$").lower())
    return sorted(
        name
        for name in fields
        if name not in named
        and name not in UNCONDITIONED_FIELDS
        and not name.startswith("x-ignore-")
    )


class _FrontHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._pass_on()

    # http.server's names: every method goes to the same handler.
    do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = do_GET  # noqa: N815

    def _pass_on(self):
        length = declared_length(self.headers)
        if "Transfer-Encoding" in self.headers or length is None:
            self.close_connection = True
            return self._error(411, "MissingContentLength", "send a Content-Length")
        if length > self.server.max_body_bytes:
            self.close_connection = True
            return self._error(400, "EntityTooLarge", "the request body is too large")
        body = self.rfile.read(length)
        if self.command == "OPTIONS" and "Access-Control-Request-Method" in self.headers:
            origin = self.headers.get("Origin", "")
            if origin not in self.server.allowed_origins:
                message = f"CORSResponse: this CORS request is not allowed from {origin!r}"
                return self._error(403, "AccessForbidden", message)
        if self.command == "POST" and not urllib.parse.urlsplit(self.path).query:
            extra = extra_post_fields(self.headers.get("Content-Type", ""), body)
            if extra:
                message = f"Invalid according to Policy: Extra input fields: {', '.join(extra)}"
                return self._error(403, "AccessDenied", message)
        headers = {
            name: value for name, value in self.headers.items() if name.lower() not in HOP_HEADERS
        }
        upstream = http.client.HTTPConnection(
            "127.0.0.1", self.server.upstream_port, timeout=UPSTREAM_SECONDS
        )
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            content = answer.read()
        except OSError as error:
            # As an S3 out of reach looks to its clients: no answer at all.
            log.warning("S3 (SeaweedFS) did not answer: %s", error)
            self.close_connection = True
            return None
        finally:
            upstream.close()
        with contextlib.suppress(OSError):  # the client may have given up meanwhile
            self.send_response(answer.status, answer.reason)
            # A HEAD's Content-Length is the object's: it is passed on as it came.
            recounted = self.command != "HEAD"
            for name, value in answer.getheaders():
                lower = name.lower()
                if lower not in HOP_HEADERS and not (recounted and lower == "content-length"):
                    self.send_header(name, value)
            if recounted:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

    def _error(self, status, code, message):
        payload = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        ).encode()
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    def log_message(self, format, *args):
        pass  # the gateway logs the API's requests; S3's are the browser's and boto's
