"""The events websocket through the real ASGI routing, against the real engine and the real Redis."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from console.endpoints import consumers
from console.endpoints.models import Endpoint
from tests.console.websockets import close_code, communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)


def pumps() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("events-") and t.is_alive()]


def test_an_event_arrives_after_docker_start(admin_user, endpoint, docker) -> None:  # type: ignore[no-untyped-def]
    cid = docker("create", "busybox", "true", check=True).out
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/", admin_user)

    async def scenario() -> list[dict]:
        await connect(comm)
        await asyncio.sleep(0.5)  # the engine stream opens in a thread; events before it are not replayed
        await sync_to_async(docker)("start", cid)
        got = await receive_json_until(comm, lambda m: any(
            e.get("Type") == "container" and e.get("Action") == "start" and e.get("id") == cid for e in m.get("events", [])))
        await comm.disconnect()
        return got

    messages = run(scenario)
    assert all(set(m) == {"events"} and m["events"] for m in messages)  # batches, never empty
    deadline = time.monotonic() + 5
    while pumps() and time.monotonic() < deadline:  # closing the page closes the engine stream
        time.sleep(0.05)
    assert not pumps()


def test_events_are_batched(admin_user, endpoint, docker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(consumers, "BATCH_SECONDS", 1.0)
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/", admin_user)
    cids = [docker("create", "busybox", "true", check=True).out for _ in range(3)]

    sent_at: list[float] = []
    original = consumers.EngineEventsConsumer.send_json

    async def timed_send(self, content, close=False):  # type: ignore[no-untyped-def]
        sent_at.append(time.monotonic())
        await original(self, content, close)

    monkeypatch.setattr(consumers.EngineEventsConsumer, "send_json", timed_send)

    async def scenario() -> list[dict]:
        await connect(comm)
        await asyncio.sleep(0.5)
        for cid in cids:
            await sync_to_async(docker)("start", cid)
        started: set[str] = set()

        def all_started(m: dict) -> bool:
            started.update(e["id"] for e in m["events"] if e.get("Action") == "start")
            return started >= set(cids)

        got = await receive_json_until(comm, all_started)
        await comm.disconnect()
        return got

    messages = run(scenario)
    assert any(len(m["events"]) > 1 for m in messages)  # several events in one message
    assert all(b - a >= 0.95 for a, b in zip(sent_at, sent_at[1:]))  # at most one message per BATCH_SECONDS


def test_anonymous_users_are_refused(endpoint) -> None:  # type: ignore[no-untyped-def]
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/")

    async def scenario() -> int | None:
        await connect(comm)
        return await close_code(comm)

    assert run(scenario) == 4403


def test_non_administrators_are_refused(django_user_model, endpoint) -> None:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("plain", password="x" * 20)
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/events/", user)

    async def scenario() -> int | None:
        await connect(comm)
        return await close_code(comm)

    assert run(scenario) == 4403


def test_unknown_endpoints_are_refused(admin_user) -> None:  # type: ignore[no-untyped-def]
    comm = communicator("/ws/endpoints/999999/events/", admin_user)

    async def scenario() -> int | None:
        await connect(comm)
        return await close_code(comm)

    assert run(scenario) == 4404


def test_an_unreachable_engine_is_reported_and_the_socket_closed(admin_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gone = Endpoint.objects.create(name="gone", url=f"unix://{tmp_path}/none.sock")
    comm = communicator(f"/ws/endpoints/{gone.pk}/events/", admin_user)

    async def scenario() -> tuple[list[dict], int | None]:
        await connect(comm)
        got = await receive_json_until(comm, lambda m: "error" in m)
        return got, await close_code(comm)

    got, code = run(scenario)
    assert got[-1] == {"error": f"cannot reach the engine at unix://{tmp_path}/none.sock: No such file or directory"}
    assert code == consumers.ENGINE_GONE
