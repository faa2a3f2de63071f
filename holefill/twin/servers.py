"""The twin's HTTP servers: each serves its port from a thread of its own."""

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
