"""Shared fixtures: one real Berth engine per test session (see tests/support/engine.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.engine import EngineProcess


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a long end-to-end test")


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineProcess]:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    e = EngineProcess()
    e.start()
    e.bootstrap_busybox()
    try:
        yield e
    finally:
        leaks = e.cleanup()
        assert not leaks, f"the engine left things behind: {leaks}"


@pytest.fixture
def docker(engine: EngineProcess):  # type: ignore[no-untyped-def]
    """`docker(*args)` against the session's engine; containers made in the test are removed after it,
    then the volumes made in it (which those containers may have held, so other fixtures could not)."""
    before = set(engine.docker("ps", "-aq", "--no-trunc").stdout.split())
    volumes_before = set(engine.docker("volume", "ls", "-q").stdout.split())
    yield engine.docker
    after = set(engine.docker("ps", "-aq", "--no-trunc").stdout.split())
    made = sorted(after - before)
    if made:
        engine.docker("rm", "-f", *made, timeout=120)
    volumes = sorted(set(engine.docker("volume", "ls", "-q").stdout.split()) - volumes_before)
    if volumes:
        engine.docker("volume", "rm", "-f", *volumes, timeout=120)
