"""The runtime driver: conmon holds each container's stdio and exit code, runc runs it.

Every container process is started by conmon (Debian's package), which
double-forks away from the engine, runs `runc create`, keeps the container's
stdout/stderr (writing the log in CRI "k8s-file" format and serving an attach
socket), and records the exit code in `<persist dir>/exit` when the container
ends. So containers outlive the engine, and a restarted engine finds them by
conmon's pid.

The conmon protocol used here (conmon API version 1):
  _OCI_SYNCPIPE   conmon writes {"data": <container pid>} once `runc create` is
                  done (or {"data": -1, "message": ...} if it failed); for exec
                  sessions it writes {"data": <exit code>} at the end as well.
  _OCI_STARTPIPE  (exec attach) conmon waits for a byte before forking and again
                  before running `runc exec`, so the caller can attach in between.
  _OCI_ATTACHPIPE (exec attach) conmon says when the attach socket exists.
  <bundle>/attach SOCK_SEQPACKET; each message from conmon starts with a byte
                  2 (stdout) or 3 (stderr); bytes written to it go to stdin.
  <bundle>/ctl    fifo; "1 <height> <width>\\n" resizes the terminal.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal as signals
import socket
from dataclasses import dataclass

from engine.errors import Conflict, InvalidArgument, SystemFault

STDOUT_PIPE = 2
STDERR_PIPE = 3


class RuntimeError_(SystemFault):
    """runc or conmon failed; the message is theirs."""


@dataclass(frozen=True)
class RuntimeConfig:
    runc: str
    conmon: str
    runc_root: str


@dataclass(frozen=True)
class CreateRequest:
    cid: str
    name: str
    bundle: str
    persist_dir: str
    log_path: str
    terminal: bool
    stdin: bool
    stdin_once: bool
    extra_fds: tuple[int, ...] = ()  # kept open by conmon until the container ends (held host ports)


@dataclass(frozen=True)
class Created:
    pid: int
    conmon_pid: int


def proc_start_time(pid: int) -> int:
    """Field 22 of /proc/<pid>/stat: tells a process apart from a later one with the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    rest = data[data.rfind(b")") + 2:].split()
    return int(rest[19]) if len(rest) > 19 else 0


def process_alive(pid: int, start_time: int) -> bool:
    return pid > 0 and proc_start_time(pid) == start_time and start_time != 0


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
            loop.add_reader(self.fd, lambda: fut.done() or fut.set_result(None))
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
        line, sep, rest = bytes(self.buf).partition(b"\n")
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


async def read_json_line(fd: int, timeout: float | None = None) -> dict[str, object] | None:
    """One JSON message from a pipe that carries only one."""
    return await PipeReader(fd).message(timeout)


def exec_failure_code(message: str) -> int:
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    return 126


class Runtime:
    def __init__(self, cfg: RuntimeConfig) -> None:
        self.cfg = cfg
        os.makedirs(cfg.runc_root, mode=0o700, exist_ok=True)

    # -- runc ----------------------------------------------------------------------
    async def runc(self, *args: str, check: bool = True) -> tuple[int, bytes, bytes]:
        proc = await asyncio.create_subprocess_exec(
            self.cfg.runc, "--root", self.cfg.runc_root, *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        rc = proc.returncode or 0
        if check and rc != 0:
            raise RuntimeError_(f"runc {args[0]} failed: {_runc_message(err)}")
        return rc, out, err

    async def start(self, cid: str) -> None:
        """Let a created container's process run.

        `runc start` does nothing but read runc's exec fifo, which releases the
        blocked `runc init`; reading it here saves spawning runc. If the fifo is not
        where runc 1.x keeps it, `runc start` does it.
        """
        fifo = os.path.join(self.state_dir(cid), "exec.fifo")
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            await self.runc("start", cid)
            return
        try:
            data = b""
            for _ in range(200):
                try:
                    data = os.read(fd, 1)
                except BlockingIOError:
                    data = b""
                if data:
                    break
                await asyncio.sleep(0.001)
        finally:
            os.close(fd)
        if not data:
            raise RuntimeError_("runc init did not signal through its exec fifo")
        try:
            os.unlink(fifo)
        except FileNotFoundError:
            pass

    async def kill(self, cid: str, sig: int, all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [cid, str(sig)]
        rc, _, err = await self.runc(*args, check=False)
        if rc != 0:
            msg = _runc_message(err)
            if "not running" in msg or "container not running" in msg or "does not exist" in msg:
                return
            raise RuntimeError_(f"runc kill failed: {msg}")

    async def pause(self, cid: str) -> None:
        await self.runc("pause", cid)

    async def resume(self, cid: str) -> None:
        await self.runc("resume", cid)

    async def delete(self, cid: str, force: bool = False) -> None:
        rc, _, err = await self.runc("delete", *(["--force"] if force else []), cid, check=False)
        if rc != 0:
            msg = _runc_message(err)
            if "does not exist" in msg or "not exist" in msg:
                return
            if not force:
                await self.delete(cid, force=True)
                return
            raise RuntimeError_(f"runc delete failed: {msg}")

    def state_dir(self, cid: str) -> str:
        return os.path.join(self.cfg.runc_root, cid)

    async def state(self, cid: str) -> dict[str, object] | None:
        rc, out, _ = await self.runc("state", cid, check=False)
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    # -- conmon ----------------------------------------------------------------------
    def _conmon_args(self, cid: str, uuid: str, bundle: str, name: str, terminal: bool, stdin: bool) -> list[str]:
        args = [
            self.cfg.conmon, "--api-version", "1", "-c", cid, "-u", uuid, "-r", self.cfg.runc,
            "-b", bundle, "-p", os.path.join(bundle, "pidfile"), "-n", name,
            "-P", os.path.join(bundle, "conmon.pid"), "--full-attach", "--socket-dir-path", bundle,
            "--log-level", "error", "--no-sync-log",
            f"--runtime-arg=--root={self.cfg.runc_root}",
        ]
        if terminal:
            args.append("-t")
        if stdin:
            args.append("-i")
        return args

    async def create(self, req: CreateRequest) -> Created:
        """Run conmon → `runc create`; returns once the container's init is ready to start."""
        args = self._conmon_args(req.cid, req.cid, req.bundle, req.name, req.terminal, req.stdin)
        args += ["--persist-dir", req.persist_dir, "-l", f"k8s-file:{req.log_path}"]
        if req.stdin and not req.stdin_once:
            args.append("--leave-stdin-open")
        for stale in ("exit", "oom"):
            try:
                os.unlink(os.path.join(req.persist_dir, stale))
            except FileNotFoundError:
                pass
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, pass_fds=(sync_w, *req.extra_fds), env=_conmon_env(_OCI_SYNCPIPE=sync_w), cwd=req.bundle,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )
            os.close(sync_w)
            sync_w = -1
            msg = await read_json_line(sync_r, timeout=60)
            _, err = await proc.communicate()
        finally:
            if sync_w >= 0:
                os.close(sync_w)
            os.close(sync_r)
        if msg is None:
            raise RuntimeError_(f"conmon failed to start the container: {err.decode(errors='replace').strip() or 'no reason given'}")
        pid = int(msg.get("data", -1))  # type: ignore[call-overload]
        if pid <= 0:
            raise container_start_error(str(msg.get("message", "")))
        conmon_pid = _read_pid(os.path.join(req.bundle, "conmon.pid"))
        return Created(pid, conmon_pid)

    async def exec(self, cid: str, exec_id: str, bundle: str, process_spec: str, terminal: bool,
                   stdin: bool, attach: bool) -> ExecProcess:
        """Start `runc exec` under conmon; with `attach`, connect before the process runs."""
        args = self._conmon_args(cid, exec_id, bundle, exec_id, terminal, stdin)
        args += ["--exec", "--exec-process-spec", process_spec, "-l", "none", "--exit-dir", bundle]
        if attach:
            args.append("--exec-attach")
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        attach_r, attach_w = os.pipe2(os.O_CLOEXEC)
        child_fds = [sync_w, start_r] + ([attach_w] if attach else [])
        env = _conmon_env(_OCI_SYNCPIPE=sync_w, _OCI_STARTPIPE=start_r, **({"_OCI_ATTACHPIPE": attach_w} if attach else {}))
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, pass_fds=tuple(child_fds), env=env, cwd=bundle,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
        finally:
            for fd in child_fds:
                os.close(fd)
            if not attach:
                os.close(attach_w)
        try:
            os.write(start_w, b"0")  # conmon's first wait: before it forks
            await proc.wait()
            sock: socket.socket | None = None
            if attach:
                ready = await read_json_line(attach_r, timeout=30)
                if ready is None:
                    raise RuntimeError_("conmon did not open the exec attach socket")
                sock = connect_attach(bundle)
                os.write(start_w, b"0")  # second wait: before `runc exec`
            sync = PipeReader(sync_r)
            msg = await sync.message(timeout=60)
        except BaseException:
            os.close(sync_r)
            raise
        finally:
            os.close(start_w)
            os.close(attach_r)
        if msg is None:
            sync.close()
            raise RuntimeError_("conmon exited before the exec process started")
        pid = int(msg.get("data", -1))  # type: ignore[call-overload]
        if pid <= 0:
            sync.close()
            message = runc_error_text(str(msg.get("message", ""))) if msg.get("message") else "exec failed"
            return ExecProcess(0, sync=None, sock=sock, failed=message)
        return ExecProcess(pid, sync=sync, sock=sock, failed="")


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


def container_start_error(message: str) -> InvalidArgument | Conflict | RuntimeError_:
    text = " ".join(runc_error_text(message).split()) if message.strip() else ""
    full = f"OCI runtime create failed: {text}: unknown" if text else "OCI runtime create failed"
    low = text.lower()
    if "executable file not found" in low or "no such file or directory" in low or "permission denied" in low:
        return InvalidArgument(full)
    return RuntimeError_(full)


_LOGFMT_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


def runc_error_text(text: str) -> str:
    """The message of runc's last error line, whether runc logged JSON, logfmt or plain text."""
    text = text.strip()
    for line in reversed(text.splitlines()):
        line = line.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
            if isinstance(doc, dict) and doc.get("msg"):
                return str(doc["msg"])
        except ValueError:
            pass
        m = _LOGFMT_MSG.search(line)
        if m:
            return m.group(1).replace('\\"', '"').replace("\\\\", "\\")
        return line
    return "unknown error"


def _runc_message(err: bytes) -> str:
    return runc_error_text(err.decode(errors="replace"))


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


def signal_number(value: str | int | None, default: int = signals.SIGKILL) -> int:
    """'SIGTERM', 'TERM', '15' or 15 → 15; Docker's 400 for anything else."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        sig = value
    else:
        text = value.strip().upper()
        if text.isdigit():
            sig = int(text)
        else:
            name = text if text.startswith("SIG") else "SIG" + text
            if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
                base = signals.SIGRTMIN if name.startswith("SIGRTMIN") else signals.SIGRTMAX
                try:
                    off = int(name[9:])
                except ValueError:
                    raise InvalidArgument(f"Invalid signal: {value}") from None
                sig = base + off if name.startswith("SIGRTMIN") else base - off
            else:
                try:
                    sig = int(getattr(signals.Signals, name))
                except AttributeError:
                    raise InvalidArgument(f"Invalid signal: {value}") from None
    if not 0 < sig <= 64:
        raise InvalidArgument(f"Invalid signal: {value}")
    return sig
