"""The stats websocket through the real routing: points with CPU and memory numbers arrive about once a second."""

from __future__ import annotations

import pytest

from tests.console.websockets import close_code, communicator, connect, receive_json_until, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_streams_cpu_memory_and_rates(endpoint, run_busybox, admin_user) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sh", "-c", "while :; do :; done", args=("--memory", "64m"))
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{cid}/stats/", admin_user)
    points: list[dict] = []

    async def scenario() -> None:
        await connect(comm)
        await receive_json_until(comm, lambda m: (points.extend(m.get("points", [])) or len(points)) >= 3, timeout=30)
        await comm.disconnect()

    run(scenario)
    last = points[-1]
    assert last["cpu"] is not None and last["cpu"] > 20  # a busy loop: most of one CPU
    assert last["mem"] > 0 and last["mem_limit"] == 64 * 2**20
    assert last["net_rx"] is not None and last["blk_read"] is not None  # rates from the previous point
    assert [p["t"] for p in points] == sorted(p["t"] for p in points)


def test_it_refuses_anonymous_users(endpoint, run_busybox) -> None:  # type: ignore[no-untyped-def]
    cid = run_busybox("sleep", "600")
    comm = communicator(f"/ws/endpoints/{endpoint.pk}/containers/{cid}/stats/")

    async def scenario() -> int | None:
        await connect(comm)
        return await close_code(comm)

    assert run(scenario) == 4403
