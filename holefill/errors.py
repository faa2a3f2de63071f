"""The errors that serving raises for a bad request, each with a stable `code` and the
HTTP status it deserves.

Every one is a `ValueError`, so a caller that does not care about the kind still catches
them all. An HTTP layer answers with the class's `http_status` and returns `code`, which
does not change between releases, next to the human-readable message.
"""


class InvalidInputError(ValueError):
    """A photo, a mask or an option that cannot be inpainted as given.

    Attributes:
        code: a stable, machine-readable identifier, e.g. "all_hole_mask".
        message: what went wrong and what to do about it.
        http_status: the status an HTTP layer answers with (422: understood, but cannot
            be inpainted).
    """

    http_status = 422

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class InputTooLargeError(InvalidInputError):
    """A file or an image beyond the configured limits (bytes or pixels)."""

    http_status = 413


class UnsupportedFormatError(InvalidInputError):
    """A file that is not an image, or an image mode that Holefill cannot inpaint."""

    http_status = 415
