"""The twin's HTTP servers: each serves its port from a thread of its own, and reads a
request's length the same way."""

import http.server
import threading


class BackgroundServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that `start` runs in the background and `stop` ends."""

    daemon_threads = True

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()


def declared_length(headers):
    """A request's Content-Length (0 when absent), or None when it is not a number of
    bytes: `isdigit` alone takes "²", which `int` refuses."""
    declared = headers.get("Content-Length") or "0"
    return int(declared) if declared.isascii() and declared.isdigit() else None
