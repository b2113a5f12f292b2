"""One command in a helper container, with everything it holds: the engine client, the helper, the exec stream.

`HelperSession(endpoint, volume, argv)` opens all three (errors come out as
EngineError / VolumeAccessError, as inside `endpoint_client`); `close()` — or the
end of a `with` block, or the end of `stream()` — releases them in reverse
order, exactly once, removing the helper container. Streaming downloads keep a
session open across the response and close it when the response ends.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from console.endpoints.client import endpoint_client
from console.endpoints.models import Endpoint
from console.volumes.helper import ExecChannel, VolumeAccessError, helper_container

TRANSFER_TIMEOUT = 300.0  # seconds one read or write on the engine connection may take


class HelperSession:
    def __init__(self, endpoint: Endpoint, volume: str, argv: list[str], purpose: str, writable: bool = False,
                 stdin: bool = False, timeout: float = TRANSFER_TIMEOUT) -> None:
        self.closed = False
        self.stack = contextlib.ExitStack()
        try:
            client = self.stack.enter_context(endpoint_client(endpoint, timeout=timeout))
            cid = self.stack.enter_context(helper_container(client.api, volume, writable, purpose))
            self.channel = self.stack.enter_context(ExecChannel(client.api, cid, argv, stdin, timeout))
        except BaseException:
            self.closed = True
            if not self.stack.__exit__(*sys.exc_info()):
                raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        return self.close(kind, exc, tb)

    def close(self, kind: type[BaseException] | None = None, exc: BaseException | None = None,
              tb: TracebackType | None = None) -> bool:
        """Release everything (idempotent). With an exception, the client's context translates it (see endpoint_client)."""
        if self.closed:
            return False
        self.closed = True
        return bool(self.stack.__exit__(kind, exc, tb))

    def check_exit(self, what: str) -> None:
        """Raise VolumeAccessError with the command's stderr when it did not exit 0."""
        code = self.channel.exit_code()
        if code != 0:
            message = self.channel.error_text() or f"{what} failed (exit code {code})"
            raise VolumeAccessError(message, 502)

    def stream(self, what: str = "the copy") -> Iterator[bytes]:
        """The command's stdout as it comes; checks its exit code at the end and closes the session."""
        try:
            yield from self.channel.chunks()
            self.check_exit(what)
        except BaseException:
            if not self.close(*sys.exc_info()):
                raise
            return
        self.close()
