from __future__ import annotations

import pytest

from engine.errors import InvalidArgument
from engine.util import timefmt


def test_rfc3339_round_trip() -> None:
    ns = 1795798228_123456789
    text = timefmt.rfc3339(ns)
    assert text == "2026-11-27T16:50:28.123456789Z"
    assert timefmt.parse_rfc3339(text) == ns
    assert timefmt.parse_rfc3339("2026-11-27T17:50:28.123456789+01:00") == ns


def test_zero_time() -> None:
    assert timefmt.rfc3339(0) == "0001-01-01T00:00:00Z"


def test_time_args() -> None:
    assert timefmt.parse_time_arg("1795798228") == 1795798228 * 10**9
    assert timefmt.parse_time_arg("1795798228.5") == 1795798228_500000000
    assert timefmt.parse_time_arg("10m", now=10**12 * 1000) == 10**15 - 600 * 10**9
    with pytest.raises(InvalidArgument):
        timefmt.parse_time_arg("yesterday")


@pytest.mark.parametrize("seconds,text", [
    (0.5, "Less than a second"), (1, "1 second"), (5, "5 seconds"), (60, "About a minute"),
    (300, "5 minutes"), (3600, "About an hour"), (7200, "2 hours"), (3 * 86400, "3 days"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert timefmt.human_duration(seconds) == text
