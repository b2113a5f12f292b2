"""The logs websocket through the real routing: lines arrive demultiplexed, batches are acknowledged, a slow
browser gets drops reported instead of an unbounded buffer, and closing the socket closes the engine stream."""

from __future__ import annotations

import asyncio
import threading

import pytest

from console.containers.consumers import MAX_BATCH, WINDOW
from tests.console.websockets import close_code, communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)


def logs_path(ep, cid: str, query: str = "") -> str:  # type: ignore[no-untyped-def]
    return f"/ws/endpoints/{ep.pk}/containers/{cid}/logs/{query}"


def stream_threads(cid: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"logs-{cid[:12]}"]


def test_it_streams_stdout_and_stderr_apart_with_times(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "i=0; while true; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done")
    comm = communicator(logs_path(endpoint, cid, "?tail=5"), admin_user)
    seen: dict[int, list[str]] = {1: [], 2: []}

    async def scenario() -> None:
        await connect(comm)

        async def take(m: dict) -> None:
            if "seq" in m:
                await comm.send_json_to({"ack": m["seq"]})
            for stream, ts, text in m.get("lines", []):
                assert ts.startswith("20") and ts.endswith("Z")
                seen[stream].append(text)

        await receive_json_until(comm, lambda m: len(seen[1]) >= 8 and len(seen[2]) >= 8, on_message=take)
        await comm.disconnect()

    run(scenario)
    assert all(t.startswith("out ") for t in seen[1]) and all(t.startswith("err ") for t in seen[2])
    numbers = [int(t.split()[1]) for t in seen[1]]
    assert numbers == sorted(numbers) and numbers[-1] - numbers[0] == len(numbers) - 1  # none lost, in order


def test_without_follow_it_sends_the_tail_and_ends(endpoint, run_busybox, admin_user, docker) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "for i in 1 2 3 4 5 6; do echo line $i; done; sleep 600")
    docker("logs", cid)  # the lines are written (the log is read after this returns)
    comm = communicator(logs_path(endpoint, cid, "?tail=3&follow=0&stderr=0"), admin_user)

    async def scenario() -> list[dict]:
        await connect(comm)
        got = await receive_json_until(comm, lambda m: m.get("end") is True, timeout=20)
        assert await close_code(comm) in (None, 1000)  # a normal close
        return got

    got = run(scenario)
    lines = [text for m in got for _, _, text in m.get("lines", [])]
    assert lines == ["line 4", "line 5", "line 6"]
    assert got[-1] == {"end": True, "error": None}


def test_a_browser_that_falls_behind_gets_drops_reported(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "sleep 1; yes 0123456789abcdef | head -n 60000; sleep 600")
    comm = communicator(logs_path(endpoint, cid, "?tail=0"), admin_user)

    async def scenario() -> dict:
        await connect(comm)
        batches = await receive_json_until(comm, lambda m: m.get("seq") == WINDOW, timeout=30)
        assert all(len(b["lines"]) <= MAX_BATCH for b in batches)
        assert await comm.receive_nothing(1.0)  # window full: nothing more until we acknowledge
        await asyncio.sleep(3)  # meanwhile the container writes far more than the console keeps
        await comm.send_json_to({"ack": WINDOW})
        [after] = (await receive_json_until(comm, lambda m: "seq" in m, timeout=20))[-1:]
        await comm.disconnect()
        return after

    after = run(scenario)
    assert after["dropped"] > 0 and after["seq"] == WINDOW + 1


def test_closing_the_socket_closes_the_engine_stream(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")  # a quiet container: the stream blocks in a read
    comm = communicator(logs_path(endpoint, cid), admin_user)

    async def scenario() -> None:
        await connect(comm)
        for _ in range(50):
            if stream_threads(cid):
                break
            await asyncio.sleep(0.1)
        assert stream_threads(cid)
        await comm.disconnect()
        for _ in range(50):
            if not stream_threads(cid):
                return
            await asyncio.sleep(0.1)

    run(scenario)
    assert not stream_threads(cid)


def test_it_refuses_anonymous_and_non_admin_users(endpoint, run_busybox, django_user_model) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    user = django_user_model.objects.create_user("pleb", password="x" * 20)
    anonymous = communicator(logs_path(endpoint, cid))
    plain = communicator(logs_path(endpoint, cid), user)

    async def scenario() -> list[int | None]:
        codes = []
        for comm in (anonymous, plain):
            await connect(comm)
            codes.append(await close_code(comm))
        return codes

    assert run(scenario) == [4403, 4403]
    assert not stream_threads(cid)


def test_it_answers_4404_and_4400(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    missing_container = communicator(logs_path(endpoint, "no-such-container"), admin_user)
    missing_endpoint = communicator(f"/ws/endpoints/999999/containers/{cid}/logs/", admin_user)
    bad_query = communicator(logs_path(endpoint, cid, "?tail=lots"), admin_user)

    async def scenario() -> list:
        out = []
        for comm in (missing_container, missing_endpoint):
            await connect(comm)
            out.append(await close_code(comm))
        await connect(bad_query)
        out.append(await bad_query.receive_json_from(10))
        out.append(await close_code(bad_query))
        return out

    c404, e404, error, c400 = run(scenario)
    assert (c404, e404, c400) == (4404, 4404, 4400)
    assert "tail" in error["error"]
