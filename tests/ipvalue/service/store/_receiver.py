"""A loan system's webhook endpoint on loopback for the tests: logs every request (delivery id, whether the
signature verifies, the body), can fail, stall past the sender's timeout, stop and start again."""

from __future__ import annotations

import http.server
import json
import threading
import time

from ipvalue.service.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature


class Receiver:
    """A loan system's endpoint on loopback: answers 500 to the first ``fail`` requests, then stalls past the
    sender's timeout on the next ``stall`` ones (it has read them: the sender will send them again), then 200."""

    def __init__(self, port: int, secret: str, *, fail: int, stall: int, stall_s: float):
        self.port, self.secret = port, secret
        self.fail, self.stall, self.stall_s = fail, stall, stall_s
        self.seen: list[dict] = []
        self.lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    n = len(outer.seen)
                    outer.seen.append(
                        {
                            "delivery": self.headers[DELIVERY_HEADER],
                            "valid": verify_signature(
                                outer.secret,
                                self.headers[TIMESTAMP_HEADER],
                                body,
                                self.headers[SIGNATURE_HEADER],
                            ),
                            "body": json.loads(body),
                        }
                    )
                if n < outer.fail:
                    self.send_response(500)
                elif n < outer.fail + outer.stall:
                    time.sleep(outer.stall_s)
                    self.send_response(200)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
