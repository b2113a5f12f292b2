"""`python -m bench.overlay [--seconds N] [--runs N] [--pings N]`: an overlay network against its underlay.

Two hosts on one machine (network namespaces on an underlay bridge, a Berth engine
in each, one etcd: tests/support/cluster.py), and between them:

- throughput: Debian's iperf3, one TCP stream for `--seconds`, from host a to host b;
- latency: busybox ping, `--pings` echoes 10 ms apart, average round trip.

Each is measured on the underlay itself (the hosts' namespaces, eth0 to eth0) and
between two containers on an overlay network (VXLAN through the same underlay),
alternating, `--runs` times; medians are reported with the ratio overlay/underlay.
The containers get iperf3 by bind mounts of the host's binary and its libraries
(run through the host's dynamic loader), so nothing is downloaded. All traffic stays
on the cluster's own namespaces. Results go to bench/results/overlay.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.report import RESULTS_DIR
from tests.support.cluster import Cluster

IPERF = "/usr/bin/iperf3"
LIBDIR = "/hostlib"  # where the containers see iperf3 and its libraries


@dataclass(frozen=True)
class Measure:
    key: str
    what: str
    unit: str
    underlay: float
    overlay: float
    samples: dict[str, list[float]]
    better: str  # "higher" or "lower"

    @property
    def ratio(self) -> float:
        return self.overlay / self.underlay if self.underlay else float("nan")


class BenchError(Exception):
    pass


def iperf_mounts() -> tuple[list[str], list[str]]:
    """docker -v flags for iperf3 and every library it loads, and the command that runs it in a container."""
    out = subprocess.run(["ldd", IPERF], capture_output=True, text=True, check=True).stdout
    files = {"iperf3": IPERF}
    loader = ""
    for line in out.splitlines():
        path = next((w for w in line.split() if w.startswith("/")), "")
        if not path:
            continue
        name = os.path.basename(path)
        files[name] = os.path.realpath(path)
        if name.startswith("ld-linux"):
            loader = name
    if not loader:
        raise BenchError("no dynamic loader in ldd's output for iperf3")
    flags = [f for name, src in sorted(files.items()) for f in ("-v", f"{src}:{LIBDIR}/{name}:ro")]
    return flags, [f"{LIBDIR}/{loader}", "--library-path", LIBDIR, f"{LIBDIR}/iperf3"]


def _bits_per_second(report: str) -> float:
    doc = json.loads(report[report.index("{"):])
    if "error" in doc:
        raise BenchError(f"iperf3: {doc['error']}")
    return float(doc["end"]["sum_received"]["bits_per_second"])


def _rtt_ms(output: str) -> float:
    m = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", output)
    if not m:
        raise BenchError(f"no round-trip summary in ping's output: {output[-300:]}")
    return float(m.group(1))


def _checked(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        raise BenchError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
    return proc.stdout


class Bench:
    def __init__(self, cluster: Cluster, seconds: int, pings: int) -> None:
        self.cluster = cluster
        self.a, self.b = cluster.hosts
        self.seconds = seconds
        self.pings = pings
        self.mounts, self.iperf = iperf_mounts()
        self.server_ip = ""

    def setup(self) -> None:
        self.a.engine.docker("network", "create", "-d", "overlay", "bench-ov", check=True)
        self.b.engine.docker("run", "-d", "--name", "iperf-server", "--network", "bench-ov", *self.mounts, "busybox",
                             *self.iperf, "-s", check=True)
        self.a.engine.docker("run", "-d", "--name", "client", "--network", "bench-ov", *self.mounts, "busybox",
                             "sleep", "86400", check=True)
        self.server_ip = self.b.engine.inspect("iperf-server")["NetworkSettings"]["Networks"]["bench-ov"]["IPAddress"]
        deadline = time.monotonic() + 20
        while self.a.engine.docker("exec", "client", "ping", "-c", "1", "-W", "1", self.server_ip).returncode != 0:
            if time.monotonic() > deadline:
                raise BenchError("the client container cannot reach the server container over the overlay")
            time.sleep(0.3)

    def teardown(self) -> None:
        self.a.engine.docker("rm", "-f", "client")
        self.b.engine.docker("rm", "-f", "iperf-server")
        self.a.engine.docker("network", "rm", "bench-ov")

    # -- one sample each -----------------------------------------------------------------------
    def underlay_throughput(self) -> float:
        server = subprocess.Popen(["nsenter", f"--net=/run/netns/{self.b.netns}", "--", IPERF, "-s", "-1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            out = _checked(self.a.run(IPERF, "-c", self.b.address, "-t", str(self.seconds), "-J",
                                      timeout=self.seconds + 30), "iperf3 on the underlay")
            return _bits_per_second(out)
        finally:
            server.kill()
            server.wait()

    def overlay_throughput(self) -> float:
        r = self.a.engine.docker("exec", "client", *self.iperf, "-c", self.server_ip, "-t", str(self.seconds), "-J",
                                 timeout=self.seconds + 30)
        if r.returncode != 0:
            raise BenchError(f"iperf3 on the overlay failed: {r.stderr or r.stdout[-500:]}")
        return _bits_per_second(r.stdout)

    def _ping_args(self, target: str) -> list[str]:
        return ["ping", "-q", "-c", str(self.pings), "-i", "0.01", target]

    def underlay_rtt(self) -> float:
        return _rtt_ms(_checked(self.a.run("busybox", *self._ping_args(self.b.address)), "ping on the underlay"))

    def overlay_rtt(self) -> float:
        r = self.a.engine.docker("exec", "client", *self._ping_args(self.server_ip))
        if r.returncode != 0:
            raise BenchError(f"ping on the overlay failed: {r.stderr or r.stdout[-300:]}")
        return _rtt_ms(r.stdout)


def measure(runs: int, under: Callable[[], float], over: Callable[[], float]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"underlay": [], "overlay": []}
    for _ in range(runs):  # alternating, so a drift of the machine touches both sides alike
        samples["underlay"].append(under())
        samples["overlay"].append(over())
    return samples


def run(ns: argparse.Namespace) -> list[Measure]:
    cluster = Cluster(hosts=2)
    leaks: list[str] = []
    try:
        _progress("starting two hosts, etcd and two engines")
        cluster.start()
        bench = Bench(cluster, ns.seconds, ns.pings)
        try:
            bench.setup()
            _progress(f"throughput: {ns.runs} x {ns.seconds} s each way")
            tput = measure(ns.runs, bench.underlay_throughput, bench.overlay_throughput)
            _progress(f"latency: {ns.runs} x {ns.pings} pings each way")
            rtt = measure(ns.runs, bench.underlay_rtt, bench.overlay_rtt)
        finally:
            bench.teardown()
    finally:
        leaks = cluster.cleanup()
    if leaks:
        raise BenchError(f"the cluster left things behind: {leaks}")
    gbit = {k: [v / 1e9 for v in vs] for k, vs in tput.items()}
    return [
        Measure("tcp_throughput", "TCP throughput, one iperf3 stream a → b", "Gbit/s",
                statistics.median(gbit["underlay"]), statistics.median(gbit["overlay"]), gbit, "higher"),
        Measure("ping_rtt", f"ping round trip, {ns.pings} echoes 10 ms apart", "ms",
                statistics.median(rtt["underlay"]), statistics.median(rtt["overlay"]), rtt, "lower"),
    ]


def markdown(measures: list[Measure], meta: dict[str, object]) -> str:
    lines = ["| measure | underlay | overlay | overlay/underlay |", "|---|---|---|---|"]
    for m in measures:
        lines.append(f"| {m.what} | {m.underlay:.3f} {m.unit} | {m.overlay:.3f} {m.unit} | {m.ratio:.2f}x |")
    lines += ["", (f"Medians of {meta['runs']} runs each, underlay and overlay alternating; two hosts as network "
                   f"namespaces on one veth/bridge underlay (VXLAN over it for the overlay); {meta['cpus']} CPUs, "
                   f"kernel {meta['kernel']}, {meta['date']}.")]
    return "\n".join(lines) + "\n"


def write(measures: list[Measure], meta: dict[str, object], directory: Path = RESULTS_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "results": [dict(asdict(m), ratio=m.ratio) for m in measures]}
    paths = [directory / "overlay.json", directory / "overlay.md"]
    paths[0].write_text(json.dumps(doc, indent=2) + "\n")
    paths[1].write_text(markdown(measures, meta))
    return paths


def _progress(text: str) -> None:
    print(f"[bench.overlay] {text}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.overlay", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=5, help="iperf3 duration per run (default %(default)s)")
    p.add_argument("--runs", type=int, default=3, help="runs per measure and side (default %(default)s)")
    p.add_argument("--pings", type=int, default=200, help="echoes per latency run (default %(default)s)")
    ns = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench.overlay needs root (network namespaces, engines)", file=sys.stderr)
        return 1
    for tool in ("etcd", "iperf3", "busybox", "nsenter"):
        if shutil.which(tool) is None:
            print(f"bench.overlay needs {tool} (make test-deps installs it)", file=sys.stderr)
            return 1
    try:
        measures = run(ns)
    except BenchError as exc:
        print(f"bench.overlay: {exc}", file=sys.stderr)
        return 1
    meta = {"runs": ns.runs, "seconds": ns.seconds, "pings": ns.pings, "cpus": os.cpu_count(),
            "kernel": os.uname().release, "date": time.strftime("%Y-%m-%d %H:%M")}
    print(markdown(measures, meta))
    for path in write(measures, meta):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
