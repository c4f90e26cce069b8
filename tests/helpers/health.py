"""A loopback gateway that answers only GET /health (200; anything else 404), for role runs that need the health gate."""

from __future__ import annotations

import contextlib
import http.server
import threading


@contextlib.contextmanager
def health_server():
    """Yields (base URL on 127.0.0.1, the list of paths asked so far)."""
    asked: list[str] = []

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            asked.append(self.path)
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1:%d" % server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()
