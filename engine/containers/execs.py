"""Exec sessions: a process started in a running container with `runc exec`, under conmon.

A session is created (POST /containers/{id}/exec), started once (attached over a
hijacked connection, or detached), and inspected for its exit code. The process
inherits the container's capabilities, rlimits and seccomp policy from the
container's own spec; the exec request chooses command, user, env, workdir,
TTY and privilege.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from typing import Any

from engine.api.http import RawStream
from engine.containers import spec as specs
from engine.containers import users
from engine.containers.attach import AttachOptions, frame, parse_detach_keys, pipe
from engine.containers.conmon import ExecProcess, exec_failure_code, resize
from engine.containers.lifecycle import Lifecycle
from engine.containers.model import PAUSED, RUNNING, Container
from engine.containers.sandbox import container_env, read_rootfs_file
from engine.errors import Conflict, InvalidArgument, NotFound
from engine.util.fs import atomic_write_json

log = logging.getLogger(__name__)


@dataclass
class ExecSession:
    id: str
    container_id: str
    cmd: list[str]
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    user: str = ""
    privileged: bool = False
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    detach_keys: str = ""
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    bundle: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.tty,
                "entrypoint": self.cmd[0] if self.cmd else "",
                "arguments": self.cmd[1:],
                "privileged": self.privileged,
                **({"user": self.user} if self.user else {}),
            },
            "OpenStdin": self.attach_stdin,
            "OpenStderr": self.attach_stderr,
            "OpenStdout": self.attach_stdout,
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.detach_keys,
            "Pid": self.pid,
        }


class ExecService:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.sessions: dict[str, ExecSession] = {}

    def get(self, exec_id: str) -> ExecSession:
        s = self.sessions.get(exec_id)
        if s is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return s

    def create(self, c: Container, body: dict[str, Any]) -> ExecSession:
        if not isinstance(body, dict):
            raise InvalidArgument("invalid exec config")
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd or not isinstance(cmd, list) or not all(isinstance(x, str) for x in cmd):
            raise InvalidArgument("No exec command specified")
        env = body.get("Env") or []
        if not isinstance(env, list) or not all(isinstance(x, str) for x in env):
            raise InvalidArgument("json: cannot unmarshal into Go struct field ExecConfig.Env of type []string")
        self._check_running(c)
        parse_detach_keys(body.get("DetachKeys") or None)
        session = ExecSession(
            id=secrets.token_hex(32), container_id=c.id, cmd=list(cmd), tty=bool(body.get("Tty")),
            attach_stdin=bool(body.get("AttachStdin")), attach_stdout=bool(body.get("AttachStdout")),
            attach_stderr=bool(body.get("AttachStderr")), user=str(body.get("User") or ""),
            privileged=bool(body.get("Privileged")), env=list(env), workdir=str(body.get("WorkingDir") or ""),
            detach_keys=str(body.get("DetachKeys") or ""),
        )
        self.sessions[session.id] = session
        c.exec_ids.append(session.id)
        self.lifecycle.event(c, "exec_create: " + " ".join(session.cmd), {"execID": session.id})
        return session

    @staticmethod
    def _check_running(c: Container) -> None:
        if c.state.status == PAUSED:
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        if c.state.status != RUNNING:
            raise Conflict(f"Container {c.id} is not running")

    def _process_spec(self, c: Container, s: ExecSession) -> dict[str, Any]:
        paths = self.lifecycle.registry.store.paths(c.id)
        with open(os.path.join(paths.bundle, "config.json"), encoding="utf-8") as f:
            process = json.load(f)["process"]
        rootfs = self.lifecycle.rootfs(c).merged
        if s.user:
            u = users.resolve(s.user, read_rootfs_file(rootfs, "/etc/passwd"), read_rootfs_file(rootfs, "/etc/group"))
            process["user"] = {"uid": u.uid, "gid": u.gid, **({"additionalGids": list(u.additional_gids)} if u.additional_gids else {})}
        env: dict[str, str] = {}
        for item in container_env(c) + s.env:
            env[item.partition("=")[0]] = item
        if s.tty and "TERM" not in env:
            env["TERM"] = "TERM=xterm"
        process["env"] = list(env.values())
        process["args"] = s.cmd
        process["terminal"] = s.tty
        process.pop("consoleSize", None)
        if s.workdir:
            process["cwd"] = s.workdir
        if s.privileged:
            caps = list(specs.ENGINE_CAPS)
            process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
        return process

    async def start(self, s: ExecSession, detach: bool, stream: RawStream | None, raw: bool | None = None) -> None:
        """Run the session; attached, its output goes to `stream` raw or framed as `raw` says (default: its TTY)."""
        if s.started:
            raise Conflict(f"Error: Exec command {s.id} has already run")
        c = self.lifecycle.registry.get(s.container_id)
        self._check_running(c)
        s.started = True
        s.running = True
        paths = self.lifecycle.registry.store.paths(c.id)
        s.bundle = os.path.join(paths.exec_dir, s.id[:16])
        os.makedirs(s.bundle, exist_ok=True)
        spec_path = os.path.join(s.bundle, "process.json")
        try:
            atomic_write_json(spec_path, self._process_spec(c, s))
        except Exception as exc:
            s.running = False
            s.exit_code = 126
            shutil.rmtree(s.bundle, ignore_errors=True)
            if stream is None or detach:
                raise
            # attached, Docker writes the reason (e.g. an unknown user) to the output as stdout
            await self._tell(stream, f"{exc}\r\n".encode(), s.tty if raw is None else raw)
            return
        self.lifecycle.event(c, "exec_start: " + " ".join(s.cmd), {"execID": s.id})
        attach = stream is not None and not detach
        proc = await self.lifecycle.runtime.exec(c.id, s.id, s.bundle, spec_path, s.tty, s.attach_stdin and attach, attach)
        s.pid = proc.pid
        if proc.failed:
            await self._finish(c, s, exec_failure_code(proc.failed))
            if stream is not None:
                message = f"OCI runtime exec failed: {proc.failed}: unknown\r\n".encode()
                await self._tell(stream, message, s.tty if raw is None else raw)
            return
        if attach and proc.sock is not None and stream is not None:
            opts = AttachOptions(stdin=s.attach_stdin, stdout=s.attach_stdout, stderr=s.attach_stderr,
                                 tty=s.tty, detach_keys=parse_detach_keys(s.detach_keys or None), raw=raw)
            if await pipe(proc.sock, stream, opts, close_stream=False):
                stream.close_write()  # detached: the process runs on
                asyncio.get_running_loop().create_task(self._wait_detached(c, s, proc))
                return
            await self._finish(c, s, await proc.wait_exit())
            stream.close_write()
        else:
            asyncio.get_running_loop().create_task(self._wait_detached(c, s, proc))

    @staticmethod
    async def _tell(stream: RawStream, message: bytes, raw: bool) -> None:
        """Write a failure message to an attached client (framed as stdout unless raw) and end its output."""
        try:
            await stream.write(message if raw else frame(1, message))
        except (ConnectionError, OSError):
            pass
        stream.close_write()

    async def _wait_detached(self, c: Container, s: ExecSession, proc: ExecProcess) -> None:
        await self._finish(c, s, await proc.wait_exit())

    async def _finish(self, c: Container, s: ExecSession, code: int) -> None:
        s.exit_code = code
        s.running = False
        self.lifecycle.event(c, "exec_die", {"execID": s.id, "exitCode": str(code)})
        if s.bundle:
            shutil.rmtree(s.bundle, ignore_errors=True)

    def resize(self, s: ExecSession, height: int, width: int) -> None:
        if not s.tty:
            return
        if s.bundle:
            resize(s.bundle, height, width)

    def forget_container(self, c: Container) -> None:
        for exec_id in c.exec_ids:
            self.sessions.pop(exec_id, None)
