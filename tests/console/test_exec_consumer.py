"""The terminal websocket through the real routing: a shell echoes, resizes reach the TTY, the exec is audited."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from console.audit.models import Activity
from tests.console.websockets import close_code, communicator, connect, run

pytestmark = pytest.mark.django_db(transaction=True)


async def output_until(comm, needle: bytes, timeout: float = 20) -> bytes:  # type: ignore[no-untyped-def]
    """Terminal output (binary frames) until `needle` shows up; text frames are skipped."""
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} in {out[-300:]!r}"
        message = await comm.receive_output(left)
        assert message["type"] == "websocket.send", f"closed: {message}; output {out[-300:]!r}"
        if message.get("bytes") is not None:
            out += message["bytes"]
    return out


def test_a_shell_echoes_and_follows_the_terminal_size(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{cid}/exec/", admin_user)

    async def scenario() -> list:
        await connect(comm)
        await comm.send_json_to({"type": "start", "command": "sh", "user": "", "rows": 24, "cols": 80})
        started = await comm.receive_json_from(20)
        await comm.send_to(bytes_data=b"echo hi\n")
        echoed = await output_until(comm, b"\nhi\r\n")
        await comm.send_json_to({"type": "resize", "rows": 33, "cols": 101})
        await asyncio.sleep(0.3)
        await comm.send_to(bytes_data=b"stty size\n")
        sized = await output_until(comm, b"33 101")
        await comm.send_to(bytes_data=b"exit 3\n")
        frames = []
        while True:
            message = await comm.receive_output(20)
            if message["type"] == "websocket.close":
                break
            if message.get("text"):
                frames.append(json.loads(message["text"]))
        return [started, echoed, sized, frames]

    started, echoed, sized, frames = run(scenario)
    assert started == {"type": "started"}
    assert b"echo hi" in echoed
    assert frames[-1] == {"type": "exit", "code": 3}
    entry = Activity.objects.get(action="container.exec")
    assert entry.outcome == Activity.SUCCESS and entry.details["command"] == "sh" and entry.username == "admin"
    assert "echo" not in json.dumps(entry.details)  # what is typed is never recorded


def test_a_bad_request_gets_field_errors_and_a_stopped_container_is_refused(endpoint, run_busybox, admin_user,
                                                                            docker) -> None:  # type: ignore[no-untyped-def]
    running = run_busybox("sleep", "600")
    stopped = run_busybox("true")
    docker("wait", stopped)
    bad = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{running}/exec/", admin_user)
    refused = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{stopped}/exec/", admin_user)

    async def scenario() -> list:
        await connect(bad)
        await bad.send_json_to({"type": "start", "command": "sh -c 'unfinished", "user": "no body"})
        error = await bad.receive_json_from(20)
        await bad.send_json_to({"type": "start", "command": "/no/such/program"})
        engine_error = await bad.receive_json_from(20)
        await bad.disconnect()
        await connect(refused)
        refusal = await refused.receive_json_from(20)
        return [error, engine_error, refusal, await close_code(refused)]

    error, engine_error, refusal, code = run(scenario)
    assert error["type"] == "error" and set(error["fields"]) == {"command", "user"}
    assert engine_error["type"] in ("error", "started")  # engines differ: refuse at create, or fail the process
    assert refusal["type"] == "error" and "not running" in refusal["message"] and code == 4409


def test_it_refuses_anonymous_users(endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{cid}/exec/")

    async def scenario() -> int | None:
        await connect(comm)
        return await close_code(comm)

    assert run(scenario) == 4403
