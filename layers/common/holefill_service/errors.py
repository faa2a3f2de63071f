"""The error every response of the API carries: `{"error": {"code", "message"}}`.

`code` is stable and machine-readable ("upload_not_found"); `message` says what went wrong
and what to do about it. The HTTP status travels with the error, so that an error raised
deep in a helper answers with the right 4xx or 5xx.
"""

import dataclasses


@dataclasses.dataclass
class ServiceError(Exception):
    """A request the API answers with an error.

    Attributes:
        status: the HTTP status, 4xx for the client's mistakes, 5xx for ours.
        code: a stable identifier, e.g. "invalid_key".
        message: what went wrong and what to do about it.
        headers: response headers that go with it (`Retry-After`).
    """

    status: int
    code: str
    message: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    def __str__(self):
        return f"{self.status} {self.code}: {self.message}"

    def body(self):
        return error_body(self.code, self.message)


def error_body(code, message):
    return {"error": {"code": code, "message": message}}
