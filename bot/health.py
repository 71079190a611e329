"""GET /healthz: the service's state as JSON (for Docker's HEALTHCHECK and people)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from digest.status import status_report
from digest.store import Store

log = logging.getLogger(__name__)


def serve_health(store: Store, host: str, port: int) -> ThreadingHTTPServer:
    """Answer /healthz in a background thread; 503 when the store cannot be read."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/healthz":
                self.send_error(404)
                return
            try:
                body, status = status_report(store), 200
            except Exception as exc:  # the store is down: say so, do not crash the server
                body, status = {"ok": False, "error": type(exc).__name__}, 503
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("healthz: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
