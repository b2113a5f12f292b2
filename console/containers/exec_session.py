"""A terminal in a container: an exec instance with a TTY and stdin, and its hijacked socket.

`parse_exec_request()` checks what the browser asked for (command, user, size)
and raises `ExecRequestError` with per-field messages. `ExecSession` is the
engine side for the life of one websocket: `open()` creates and starts the exec
(`exec_create` + `exec_start(socket=True, tty=True)`), then one thread reads with
`read()` while others `write()` keystrokes and `resize()`; `close()` shuts the
socket down (which ends the reader and, with the TTY gone, the process's input)
and closes the client. All methods block: call them from threads.
"""

from __future__ import annotations

import re
import shlex
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import docker.errors
import requests

from console.endpoints.client import EngineError, endpoint_client

# Empty command: bash when the image has it, else sh (what a person means by "a shell").
AUTO_SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"]
AUTO_LABEL = "bash or sh"
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
MAX_COMMAND = 1024
READ_SIZE = 1 << 16


class ExecRequestError(ValueError):
    """The browser's request was not valid; `fields` maps a field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class ExecRequest:
    """What to run: argv (AUTO_SHELL for the default), as whom ("" = the image's user), the terminal size."""

    command: list[str]
    label: str
    user: str
    rows: int
    cols: int


def _size(value: Any, default: int) -> int:
    try:
        return min(max(int(value), 1), 1000)
    except (TypeError, ValueError):
        return default


def parse_exec_request(data: dict[str, Any]) -> ExecRequest:
    """`{"command": str, "user": str, "rows": int, "cols": int}` → ExecRequest, or ExecRequestError."""
    errors: dict[str, str] = {}
    text = str(data.get("command") or "").strip()
    user = str(data.get("user") or "").strip()
    argv: list[str] = []
    if len(text) > MAX_COMMAND:
        errors["command"] = f"at most {MAX_COMMAND} characters"
    elif text:
        try:
            argv = shlex.split(text)
        except ValueError as exc:
            errors["command"] = f"cannot split it into words: {exc}"
    if user and (len(user) > 64 or not USER_RE.match(user)):
        errors["user"] = "a user name or id, optionally with :group (e.g. root, 1000, nobody:nogroup)"
    if errors:
        raise ExecRequestError(errors)
    return ExecRequest(command=argv or AUTO_SHELL, label=text or AUTO_LABEL, user=user,
                       rows=_size(data.get("rows"), 24), cols=_size(data.get("cols"), 80))


class ExecSession:
    """One exec instance with a TTY, for one websocket (see the module doc)."""

    def __init__(self, endpoint: object, container_id: str, request: ExecRequest) -> None:
        self.endpoint = endpoint
        self.container_id = container_id
        self.request = request
        self.exec_id = ""
        self._stack = ExitStack()
        self._api: Any = None
        self._sock: socket.socket | None = None

    def open(self) -> None:
        """Create and start the exec; EngineError (with the engine's message) when that fails."""
        client = self._stack.enter_context(endpoint_client(self.endpoint, timeout=30))
        self._api = client.api
        try:
            created = self._api.exec_create(
                self.container_id, self.request.command, stdin=True, tty=True, user=self.request.user,
                environment={"TERM": "xterm-256color"},
            )
            self.exec_id = created["Id"]
            response_sock = self._api.exec_start(self.exec_id, socket=True, tty=True)
            self._sock = getattr(response_sock, "_sock", response_sock)
            self._sock.settimeout(None)
        except docker.errors.APIError as exc:
            self.close()
            raise EngineError(str(exc.explanation or exc), exc.status_code) from exc
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            self.close()
            raise EngineError(f"cannot reach the engine: {exc}") from exc
        self.resize(self.request.rows, self.request.cols)

    def read(self) -> bytes:
        """The next bytes of output; b"" when the process ended or the session was closed."""
        if self._sock is None:
            return b""
        try:
            return self._sock.recv(READ_SIZE)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        if self._sock is not None:
            try:
                self._sock.sendall(data)
            except OSError:
                pass  # the process has gone; the reader reports the end

    def resize(self, rows: int, cols: int) -> None:
        """Best effort: a resize that races the end of the process is not worth an error."""
        if not self.exec_id:
            return
        try:
            self._api.exec_resize(self.exec_id, height=rows, width=cols)
        except (docker.errors.DockerException, requests.RequestException):
            pass

    def exit_code(self) -> int | None:
        try:
            return self._api.exec_inspect(self.exec_id).get("ExitCode") if self.exec_id else None
        except (docker.errors.DockerException, requests.RequestException):
            return None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._stack.close()

