"""A tiny SMTP receiver on 127.0.0.1 for tests: speaks enough of RFC 5321 for smtplib (EHLO/HELO, optional
AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and keeps each message it accepts.

    with SmtpReceiver() as smtp:          # listens on smtp.port
        ...                               # send mail to 127.0.0.1:smtp.port
        message = smtp.wait_for(lambda m: "[Berth]" in m.subject)

`reject_with` (e.g. "451 try later") makes it refuse every RCPT, to test failures. `auth` (user,
password) makes it advertise AUTH and refuse other credentials.
"""

from __future__ import annotations

import base64
import email
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    login: str = ""
    message: Message = field(init=False)

    def __post_init__(self) -> None:
        self.message = email.message_from_bytes(self.data)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)


class SmtpReceiver:
    def __init__(self, auth: tuple[str, str] | None = None, reject_with: str = "") -> None:
        self.messages: list[Received] = []
        self.auth, self.reject_with = auth, reject_with
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                receiver._session(self)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SmtpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 30) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.messages):
                if predicate(m):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no matching mail within {timeout}s; got {[m.subject for m in self.messages]}")

    # -- the protocol ---------------------------------------------------------------------------------
    def _session(self, conn: socketserver.StreamRequestHandler) -> None:
        def say(line: str) -> None:
            conn.wfile.write(line.encode() + b"\r\n")
            conn.wfile.flush()

        state: dict[str, Any] = {"from": "", "to": [], "login": ""}
        say("220 127.0.0.1 test SMTP ready")
        while line := conn.rfile.readline():
            words = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = words.split(" ", 1)[0].upper()
            if verb == "EHLO":
                say("250-127.0.0.1" + ("\r\n250-AUTH PLAIN LOGIN" if self.auth else "") + "\r\n250 8BITMIME")
            elif verb == "HELO":
                say("250 127.0.0.1")
            elif verb == "AUTH":
                say(self._authenticate(conn, words, state, say))
            elif verb == "MAIL":
                if self.auth and not state["login"]:
                    say("530 authentication required")
                    continue
                state.update({"from": words.split(":", 1)[1].strip().strip("<>").split(">")[0], "to": []})
                say("250 OK")
            elif verb == "RCPT":
                if self.reject_with:
                    say(self.reject_with)
                    continue
                state["to"].append(words.split(":", 1)[1].strip().strip("<>").split(">")[0])
                say("250 OK")
            elif verb == "DATA":
                say("354 end with <CRLF>.<CRLF>")
                data = self._read_data(conn)
                self.messages.append(Received(state["from"], list(state["to"]), data, state["login"]))
                say("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                say("250 OK")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("502 command not implemented")

    @staticmethod
    def _read_data(conn: socketserver.StreamRequestHandler) -> bytes:
        lines = []
        while (line := conn.rfile.readline()) not in (b".\r\n", b".\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _authenticate(self, conn: socketserver.StreamRequestHandler, words: str, state: dict[str, Any],
                      say: Callable[[str], None]) -> str:
        parts = words.split(" ")
        mechanism = parts[1].upper() if len(parts) > 1 else ""
        if mechanism == "PLAIN":
            if len(parts) > 2:
                blob = parts[2]
            else:
                say("334 ")
                blob = conn.rfile.readline().decode().strip()
            _, user, password = base64.b64decode(blob).decode().split("\0")
        elif mechanism == "LOGIN":
            say("334 " + base64.b64encode(b"Username:").decode())
            user = base64.b64decode(conn.rfile.readline().strip()).decode()
            say("334 " + base64.b64encode(b"Password:").decode())
            password = base64.b64decode(conn.rfile.readline().strip()).decode()
        else:
            return "504 unknown mechanism"
        if self.auth != (user, password):
            return "535 authentication failed"
        state["login"] = user
        return "235 authenticated"
