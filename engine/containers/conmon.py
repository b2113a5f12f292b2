"""The conmon side of the runtime: its pipes, attach socket and control fifo.

conmon (API version 1) reports through pipes it finds in its environment:
_OCI_SYNCPIPE (the container pid after `runc create`, or an error; an exec's exit
code at the end), _OCI_STARTPIPE (exec attach: proceed) and _OCI_ATTACHPIPE (exec
attach: the socket is ready). <bundle>/attach is a SOCK_SEQPACKET socket whose
messages start with 2 (stdout) or 3 (stderr); <bundle>/ctl takes "1 <h> <w>" resizes.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import dataclass

STDOUT_PIPE = 2
STDERR_PIPE = 3



class PipeReader:
    """Reads newline-terminated JSON messages from a pipe without blocking the loop.

    Keeps what it read past a message, because conmon may write two messages
    (pid, then exit code) before the engine reads the first.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()
        os.set_blocking(fd, False)

    async def message(self, timeout: float | None = None) -> dict[str, object] | None:
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buf:
            fut: asyncio.Future[None] = loop.create_future()
            loop.add_reader(self.fd, _wake, fut)
            try:
                await asyncio.wait_for(fut, timeout)
            finally:
                loop.remove_reader(self.fd)
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                break
            self.buf += chunk
        line, _, rest = bytes(self.buf).partition(b"\n")
        self.buf = bytearray(rest)
        if not line.strip():
            return None
        try:
            return json.loads(line)
        except ValueError:
            return {"data": -1, "message": line.decode(errors="replace")}

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _wake(fut: asyncio.Future[None]) -> None:
    """Reader callback: the fd is readable. It may fire again before the reader is removed."""
    if not fut.done():
        fut.set_result(None)


async def read_json_line(fd: int, timeout: float | None = None) -> dict[str, object] | None:
    """One JSON message from a pipe that carries only one."""
    return await PipeReader(fd).message(timeout)



def exec_failure_code(message: str) -> int:
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    return 126



@dataclass
class ExecProcess:
    pid: int
    sync: PipeReader | None
    sock: socket.socket | None
    failed: str

    async def wait_exit(self) -> int:
        if self.sync is None:
            return exec_failure_code(self.failed)
        try:
            msg = await self.sync.message()
        finally:
            self.sync.close()
            self.sync = None
        if msg is None:
            return 137
        code = int(msg.get("data", 137))  # type: ignore[call-overload]
        return code if code >= 0 else 126


def connect_attach(bundle: str) -> socket.socket:
    """Connect to conmon's attach socket in a bundle of any path length."""
    dirfd = os.open(bundle, os.O_PATH | os.O_CLOEXEC)
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.connect(f"/proc/self/fd/{dirfd}/attach")
    finally:
        os.close(dirfd)
    sock.setblocking(False)
    return sock


def resize(bundle: str, height: int, width: int) -> None:
    path = os.path.join(bundle, "ctl")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.write(fd, f"1 {height} {width}\n".encode())
    except OSError:
        pass
    finally:
        os.close(fd)



def _read_pid(path: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _conmon_env(**fds: int) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")}
    env.update({k: str(v) for k, v in fds.items()})
    return env


