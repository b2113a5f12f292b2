"""The threads behind a terminal websocket: one reads the exec's output, one writes keystrokes.

`ExecPump.start()` validates the browser's request, opens the ExecSession and
audits it (`container.exec`, with the command and the user — never what is
typed). Then:
- the reader thread hands output to `on_output` (which blocks until the bytes
  are on the websocket) and pauses once EXEC_WINDOW bytes are unacknowledged by
  the browser (`acknowledge()`), so a flood waits in the TTY, not in memory;
- the writer thread sends what `write()` queued, so a process that does not read
  its input never blocks the websocket (acks and resizes keep flowing);
- when the process ends, `on_exit(exit code)` is called once. `stop()` (the
  websocket closed) ends both threads and the session without calling it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async

from console.audit.log import record
from console.audit.models import Activity
from console.containers.exec_session import ExecRequestError, ExecSession, parse_exec_request
from console.endpoints.client import EngineError

log = logging.getLogger("console.containers")

EXEC_WINDOW = 512 * 1024  # output bytes in flight before the reader waits for the browser
EXIT_WAIT = 2.0  # seconds to wait for the engine to record the exit code after the output ends


class ExecPump:
    """One terminal session's threads (see the module doc)."""

    def __init__(self, endpoint: Any, container_id: str, on_output: Callable[[bytes], None],
                 on_exit: Callable[[int | None], None]) -> None:
        self.endpoint = endpoint
        self.container_id = container_id
        self.on_output = on_output
        self.on_exit = on_exit
        self.session: ExecSession | None = None
        self._inbox: queue.Queue[bytes | None] = queue.Queue()
        self._unacked = 0
        self._cond = threading.Condition()
        self._stopping = False

    async def start(self, message: dict[str, Any], request: Any, container_name: str) -> dict[str, Any] | None:
        """Open the session; None when it runs, else the error for the browser ({"message", "fields"?})."""
        try:
            wanted = parse_exec_request(message)
        except ExecRequestError as exc:
            return {"message": "Check the command and the user.", "fields": exc.fields}
        session = ExecSession(self.endpoint, self.container_id, wanted)
        details = {"id": self.container_id, "command": wanted.label, "user": wanted.user or "(image default)"}
        try:
            await asyncio.to_thread(session.open)
        except EngineError as exc:
            await database_sync_to_async(record)(request, "container.exec", container_name, Activity.FAILURE,
                                                 exc.message, self.endpoint, **details)
            return {"message": exc.message}
        await database_sync_to_async(record)(request, "container.exec", container_name, Activity.SUCCESS, "",
                                             self.endpoint, exec_id=session.exec_id, **details)
        self.session = session
        threading.Thread(target=self._read, name=f"exec-read-{session.exec_id[:12]}", daemon=True).start()
        threading.Thread(target=self._write, name=f"exec-write-{session.exec_id[:12]}", daemon=True).start()
        return None

    def write(self, data: bytes) -> None:
        self._inbox.put(data)

    def resize(self, rows: Any, cols: Any) -> None:
        try:
            r, c = int(rows), int(cols)
        except (TypeError, ValueError):
            return
        if self.session is not None and 0 < r <= 1000 and 0 < c <= 1000:
            self.session.resize(r, c)

    def acknowledge(self, count: Any) -> None:
        try:
            n = int(count)
        except (TypeError, ValueError):
            return
        with self._cond:
            self._unacked = max(0, self._unacked - n)
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._inbox.put(None)
        if self.session is not None:
            self.session.close()

    def _read(self) -> None:
        assert self.session is not None
        while True:
            data = self.session.read()
            if not data:
                break
            with self._cond:
                while self._unacked > EXEC_WINDOW and not self._stopping:
                    self._cond.wait(1.0)
                if self._stopping:
                    return
                self._unacked += len(data)
            try:
                self.on_output(data)
            except Exception:  # the websocket is going away
                log.debug("exec output not delivered", exc_info=True)
                return
        if not self._stopping:
            self.on_exit(self._exit_code())
        self._inbox.put(None)

    def _exit_code(self) -> int | None:
        assert self.session is not None
        deadline = time.monotonic() + EXIT_WAIT
        while True:
            code = self.session.exit_code()
            if code is not None or time.monotonic() > deadline:
                return code
            time.sleep(0.1)

    def _write(self) -> None:
        while (data := self._inbox.get()) is not None:
            if self.session is not None:
                self.session.write(data)
