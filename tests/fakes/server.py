"""The fake patent service over real sockets on loopback (``127.0.0.1``, a free port).

:class:`FakePatentServer` is :class:`tests.fakes.service.FakePatentService` behind a threaded HTTP/1.1 server,
for the tests that need a real connection: faults on the wire (a dropped connection, a body cut short, a slow
answer running into the client's timeout), several processes sharing one server, and the command line.

Example
-------
>>> from tests.fakes import FakePatentServer
>>> import data_sources as ds
>>> with FakePatentServer() as srv:                                        # doctest: +SKIP
...     res = ds.fetch(["EP2400812A1"], sources=["epo_ops"], base_urls=srv.base_urls, env=srv.env)
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.service import FakePatentService

__all__ = ["FakePatentServer"]


class FakePatentServer(FakePatentService):
    """Fake OPS, Lens and ODP on ``127.0.0.1`` in a background thread (real sockets).

    Takes the parameters of :class:`tests.fakes.service.FakePatentService`; use it as a context manager or
    call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Root URL of the server (``http://127.0.0.1:PORT``)."""
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakePatentServer:
        """Start listening on a free loopback port."""
        service = self

        class Handler(_Handler):
            fake = service

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-patent-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakePatentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    fake: FakePatentService
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        return None

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        with self.fake.in_flight(self.path):
            self._answer(method)

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        answer = self.fake.handle(method, self.path, dict(self.headers.items()), body)
        if answer.delay:
            time.sleep(answer.delay)
        if answer.wire == "drop":
            self.close_connection = True
            return
        self.send_response(answer.status)
        for k, v in answer.headers.items():
            self.send_header(k, v)
        # a truncated answer promises more bytes than it sends, then closes
        self.send_header("Content-Length", str(5000 if answer.wire == "truncate" else len(answer.body)))
        self.end_headers()
        if answer.body:
            self.wfile.write(answer.body)
        if answer.wire == "truncate":
            self.wfile.flush()
            self.close_connection = True
