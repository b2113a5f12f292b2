"""console.metrics.stats: docker stats' numbers from raw engine samples (pure)."""

from __future__ import annotations

from console.metrics.stats import cpu_percent, memory_used, parse_time, point, totals


def sample(read: str, cpu: int, system: int, pre_cpu: int = 0, pre_system: int = 0, rx: int = 0, tx: int = 0,
           blk_read: int = 0, blk_write: int = 0, mem: dict | None = None) -> dict:
    return {
        "read": read,
        "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": system, "online_cpus": 4},
        "precpu_stats": {"cpu_usage": {"total_usage": pre_cpu}, "system_cpu_usage": pre_system},
        "memory_stats": mem or {"usage": 300 * 2**20, "limit": 1024 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
        "networks": {"eth0": {"rx_bytes": rx, "tx_bytes": tx}, "eth1": {"rx_bytes": rx, "tx_bytes": 0}},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 8, "minor": 0, "op": "read", "value": blk_read},
            {"major": 8, "minor": 0, "op": "write", "value": blk_write},
        ]},
        "pids_stats": {"current": 3},
    }


def test_it_parses_rfc3339_with_nanoseconds_and_offsets() -> None:
    assert parse_time("2026-01-02T03:04:05.5Z") == 1767323045.5
    assert parse_time("2026-01-02T04:04:05.123456789+01:00") == 1767323045.123456789
    assert parse_time("2026-01-02T03:04:05Z") == 1767323045.0
    assert parse_time("0001-01-01T00:00:00Z") == 0.0
    assert parse_time("garbage") == 0.0


def test_it_computes_cpu_like_docker_stats() -> None:
    # 0.5 s of CPU over 2 s of host time on 4 CPUs: 100 % of one CPU.
    assert cpu_percent(500_000_000, 2_000_000_000, 4) == 100.0
    assert cpu_percent(10, 0, 4) is None


def test_it_subtracts_inactive_file_cache_from_memory() -> None:
    assert memory_used({"usage": 300, "stats": {"inactive_file": 100}}) == 200
    assert memory_used({"usage": 300, "stats": {"total_inactive_file": 50}}) == 250  # cgroup v1
    assert memory_used({"usage": 300, "stats": {"inactive_file": 400}}) == 300
    assert memory_used({}) == 0


def test_a_live_sample_uses_its_own_precpu_window() -> None:
    raw = sample("2026-01-02T03:04:05Z", cpu=1_500_000_000, system=10_000_000_000, pre_cpu=1_000_000_000,
                 pre_system=8_000_000_000)
    p = point(totals(raw), None)
    assert p.cpu == 100.0
    assert p.mem == 200 * 2**20 and p.mem_limit == 1024 * 2**20
    assert p.mem_pct == round(200 / 1024 * 100, 2)
    assert p.net_rx is None and p.blk_write is None  # no rates without a previous sample
    assert p.pids == 3


def test_rates_come_from_the_previous_sample() -> None:
    first = totals(sample("2026-01-02T03:04:05Z", cpu=0, system=1_000, rx=1000, tx=500, blk_read=0, blk_write=4096))
    second = totals(sample("2026-01-02T03:04:15Z", cpu=1_000_000_000, system=40_000_000_000 + 1_000, rx=6000,
                           tx=1500, blk_read=10240, blk_write=4096))
    p = point(second, first)
    assert p.net_rx == (12000 - 2000) / 10  # both interfaces summed
    assert p.net_tx == 100.0
    assert p.blk_read == 1024.0 and p.blk_write == 0.0
    assert p.cpu == 10.0  # 1 s of CPU in 40 s of host time on 4 CPUs


def test_a_counter_that_went_back_gives_no_rate() -> None:
    first = totals(sample("2026-01-02T03:04:05Z", cpu=5, system=10, rx=9000))
    second = totals(sample("2026-01-02T03:04:15Z", cpu=6, system=20, rx=10))
    assert point(second, first).net_rx is None


def test_a_stopped_container_sample_takes_the_time_given() -> None:
    raw = {"read": "0001-01-01T00:00:00Z", "cpu_stats": {}, "precpu_stats": {}, "memory_stats": {}}
    t = totals(raw, now=1234.5)
    assert t.read == 1234.5 and t.mem_usage == 0
    assert point(t, None).cpu is None
