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
import socket
from dataclasses import dataclass

from engine.containers.conmon import (
    ExecProcess,
    PipeReader,
    _conmon_env,
    _read_pid,
    connect_attach,
    read_json_line,
)
from engine.errors import Conflict, InvalidArgument, SystemFault
from engine.observe.tracing import traced


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
    log_path: str  # "" for no log at all (`--log-driver none`)
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


class Runtime:
    def __init__(self, cfg: RuntimeConfig) -> None:
        self.cfg = cfg
        os.makedirs(cfg.runc_root, mode=0o700, exist_ok=True)

    # -- runc ----------------------------------------------------------------------
    @traced(lambda self, *args, **_: f"runc {args[0]}")
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

    @traced("runc start")
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

    @traced("conmon: runc create")
    async def create(self, req: CreateRequest) -> Created:
        """Run conmon → `runc create`; returns once the container's init is ready to start."""
        args = self._conmon_args(req.cid, req.cid, req.bundle, req.name, req.terminal, req.stdin)
        args += ["--persist-dir", req.persist_dir, "-l", f"k8s-file:{req.log_path}" if req.log_path else "none:"]
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


