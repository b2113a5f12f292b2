"""Pure parts behind the container page: log framing and queueing, log queries, exec requests, the summary."""

from __future__ import annotations

import struct

import pytest

from console.containers.exec_session import AUTO_SHELL, ExecRequestError, parse_exec_request
from console.containers.log_lines import (
    MAX_LINE,
    FrameReader,
    LineQueue,
    LogParser,
    LogQuery,
    PlainLog,
    parse_since,
)
from console.containers.summary import human_bytes, human_ns, summarize


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_frames_are_read_across_chunk_boundaries() -> None:
    data = frame(1, b"hello\n") + frame(2, b"oops\n")
    reader = FrameReader(tty=False)
    got = []
    for i in range(0, len(data), 3):
        got += reader.feed(data[i:i + 3])
    assert got == [(1, b"hello\n"), (2, b"oops\n")]


def test_lines_are_split_per_stream_with_timestamps() -> None:
    parser = LogParser(tty=False, timestamps=True)
    lines = parser.feed(frame(1, b"2026-01-02T03:04:05.1Z one\n2026-01-02T03:04:05.2Z tw")
                        + frame(2, b"2026-01-02T03:04:05.3Z err\n") + frame(1, b"o\n"))
    assert lines == [(1, "2026-01-02T03:04:05.1Z", "one"), (2, "2026-01-02T03:04:05.3Z", "err"),
                     (1, "2026-01-02T03:04:05.2Z", "two")]
    assert parser.feed(frame(1, b"2026-01-02T03:04:06Z no newline")) == []
    assert parser.flush() == [(1, "2026-01-02T03:04:06Z", "no newline")]


def test_a_file_never_splices_one_stream_into_a_line_of_the_other() -> None:
    text = PlainLog(tty=False)
    out = text.feed(frame(1, b"line 1\nli") + frame(2, b"oops\n") + frame(1, b"ne 2\n") + frame(2, b"tail"))
    assert out == b"line 1\noops\nline 2\n"
    assert text.flush() == b"tail"
    assert PlainLog(tty=True).feed(b"raw\r\n") == b"raw\r\n"
    stamped = PlainLog(tty=False, timestamps=True)
    assert stamped.feed(frame(1, b"2026-01-02T03:04:05.1Z li") + frame(1, b"2026-01-02T03:04:05.2Z ne\n")) == \
        b"2026-01-02T03:04:05.1Z line\n"


def test_a_line_cut_into_frames_keeps_its_first_time() -> None:
    parser = LogParser(tty=False, timestamps=True)
    assert parser.feed(frame(1, b"2026-01-02T03:04:05.1Z li") + frame(2, b"2026-01-02T03:04:05.15Z x\n")
                       + frame(1, b"2026-01-02T03:04:05.2Z ne\n")) == [
        (2, "2026-01-02T03:04:05.15Z", "x"), (1, "2026-01-02T03:04:05.1Z", "line")]


def test_tty_logs_are_one_stream_without_carriage_returns() -> None:
    parser = LogParser(tty=True, timestamps=False)
    assert parser.feed(b"a\r\nb\r\n") == [(0, "", "a"), (0, "", "b")]


def test_a_huge_line_is_cut_for_the_browser() -> None:
    parser = LogParser(tty=False, timestamps=False)
    [(_, _, text)] = parser.feed(frame(1, b"x" * (MAX_LINE + 10) + b"\n"))
    assert text.startswith("x" * MAX_LINE) and "10 more characters cut" in text


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    parser = LogParser(tty=False, timestamps=False)
    assert parser.feed(frame(1, b"caf\xe9\n")) == [(1, "", "caf\ufffd")]


def test_the_line_queue_drops_the_oldest_and_counts_them() -> None:
    q = LineQueue(limit=3)
    assert q.put([(1, "", "a")]) is True
    assert q.put([(1, "", "b"), (1, "", "c"), (1, "", "d"), (1, "", "e")]) is False
    lines, dropped = q.take(10)
    assert [t for _, _, t in lines] == ["c", "d", "e"] and dropped == 2
    assert q.take(10) == ([], 0)


def test_log_queries_are_checked() -> None:
    q = LogQuery.from_params({"tail": "100", "since": "15m", "stderr": "0"}, now=10_000.0)
    assert (q.tail, q.since, q.stdout, q.stderr, q.follow) == (100, 10_000.0 - 900, True, False, True)
    assert q.engine_params()["since"] == "9100.000000"
    assert LogQuery.from_params({}, now=0).tail == 1000
    with pytest.raises(ValueError, match="tail"):
        LogQuery.from_params({"tail": "all"}, now=0)
    with pytest.raises(ValueError, match="at most 5000"):
        LogQuery.from_params({"tail": "9999"}, now=0)
    with pytest.raises(ValueError, match="at least one stream"):
        LogQuery.from_params({"stdout": "0", "stderr": "0"}, now=0)
    download = LogQuery.from_params({"tail": "all"}, now=0, default_tail=None, max_tail=None, default_follow=False)
    assert download.engine_params()["tail"] == "all" and download.engine_params()["follow"] == 0


def test_since_accepts_times_and_spans() -> None:
    assert parse_since("1700000000.5", now=0) == 1700000000.5
    assert parse_since("2026-01-02T03:04:05Z", now=0) == 1767323045.0
    assert parse_since("2d", now=200_000) == 200_000 - 172_800
    with pytest.raises(ValueError, match="since"):
        parse_since("yesterday", now=0)


def test_exec_requests_default_to_a_shell_and_check_the_user() -> None:
    r = parse_exec_request({"rows": "40", "cols": 100})
    assert r.command == AUTO_SHELL and r.label == "bash or sh" and (r.rows, r.cols) == (40, 100)
    r = parse_exec_request({"command": "sh -c 'echo hi'", "user": "nobody:nogroup"})
    assert r.command == ["sh", "-c", "echo hi"] and r.user == "nobody:nogroup"
    with pytest.raises(ExecRequestError) as err:
        parse_exec_request({"command": "sh -c 'oops", "user": "bad user"})
    assert set(err.value.fields) == {"command", "user"}


def test_units_for_people() -> None:
    assert human_bytes(512 * 2**20) == "512 MiB"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_ns(30_000_000_000) == "30s" and human_ns(90_000_000_000) == "1m30s" and human_ns(5_000_000) == "5ms"


INSPECT = {
    "Id": "a" * 64, "Name": "/web", "Created": "2026-01-02T03:04:05.123Z", "Path": "httpd", "Args": ["-f", "-p", "80"],
    "Image": "sha256:" + "b" * 64, "RestartCount": 2,
    "State": {"Status": "running", "Running": True, "StartedAt": "2026-01-02T03:04:06Z", "ExitCode": 0,
              "Health": {"Status": "unhealthy", "FailingStreak": 3, "Log": [
                  {"Start": "2026-01-02T03:05:00Z", "End": "2026-01-02T03:05:00.25Z", "ExitCode": 0, "Output": "ok\n"},
                  {"Start": "2026-01-02T03:05:30Z", "End": "2026-01-02T03:05:31Z", "ExitCode": 1, "Output": "down\n"}]}},
    "Config": {"Image": "busybox", "Labels": {"b": "2", "a": "1"}, "Tty": False,
               "Healthcheck": {"Test": ["CMD-SHELL", "wget -q -O- localhost"], "Interval": 5_000_000_000, "Retries": 3}},
    "HostConfig": {"Memory": 64 * 2**20, "NanoCpus": 500_000_000, "PidsLimit": 100,
                   "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
    "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": None},
                        "Networks": {"bridge": {"IPAddress": "172.17.0.2", "IPPrefixLen": 16, "Gateway": "172.17.0.1",
                                                "MacAddress": "02:42:ac:11:00:02", "Aliases": None}}},
    "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/x", "Destination": "/data", "RW": False}],
}


def test_the_summary_reads_inspect() -> None:
    s = summarize(INSPECT, "unix:///run/berth/engine.sock")
    assert (s.name, s.image, s.status, s.short_id, s.restart_count) == ("web", "busybox", "running", "a" * 12, 2)
    assert s.command == "httpd -f -p 80"
    assert s.restart_policy == "On failure (at most 5 retries)"
    assert [p.url for p in s.ports] == ["http://127.0.0.1:8080/", ""]
    assert s.networks[0].ip == "172.17.0.2/16"
    assert s.mounts[0].name == "data" and not s.mounts[0].writable
    assert dict(s.limits) == {"Memory": "64 MiB", "CPUs": "0.5", "Processes": "100"}
    assert s.labels == (("a", "1"), ("b", "2"))
    h = s.health
    assert (h.status, h.failing_streak, h.test, h.interval, h.retries) == ("unhealthy", 3, "wget -q -O- localhost", "5s", 3)
    assert [p.exit_code for p in h.probes] == [1, 0]  # newest first
    assert h.probes[1].duration_ms == 250 and h.probes[0].output == "down"


def test_a_container_without_health_check_says_none() -> None:
    bare = {**INSPECT, "State": {"Status": "exited", "ExitCode": 137}, "Config": {"Image": "busybox"}}
    s = summarize(bare, "tcp://10.0.0.5:2376")
    assert s.health.status == "none" and s.exit_code == 137 and not s.running
    assert s.ports[0].url == "http://10.0.0.5:8080/"
