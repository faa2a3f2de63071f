"""Ports on 127.0.0.1: a free one, or a clear error when a chosen one is taken."""

import socket


class PortBusyError(RuntimeError):
    pass


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_free(port, what, option):
    """Raises `PortBusyError` naming `what` and the `option` that changes the port."""
    with socket.socket() as probe:
        # As servers do: connections of an earlier run in TIME_WAIT do not make it busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise PortBusyError(
                f"port {port} on 127.0.0.1 is in use, so {what} cannot start there: stop "
                f"what is using it, or pass {option} with another port ({error.strerror})"
            ) from error
