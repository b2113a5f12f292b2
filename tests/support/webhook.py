"""A webhook receiver on 127.0.0.1 for tests that run without Django (the browser tests): records each POST's
JSON body and headers and answers `status` (200 by default). Use it as a context manager."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    def __init__(self, path: str = "/hook/secret-token") -> None:
        self.got: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                receiver.got.append({"body": json.loads(self.rfile.read(length) or b"null"), "headers": dict(self.headers)})
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 400 else b"nope")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 30) -> Any:
        """The first body that matches `predicate`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in list(self.got):
                if predicate(item["body"]):
                    return item["body"]
            time.sleep(0.1)
        raise AssertionError(f"nothing matching arrived within {timeout}s; got {[g['body'] for g in self.got]}")
