"""Several hosts on one machine, for multi-host tests and benchmarks: network namespaces on an underlay.

`Cluster(hosts=3).start()` makes, with a tag of its own in every name:

- a switch namespace `<tag>-u` holding the underlay bridge `br0` (10.213.N.1/24)
  and one etcd listening on it (data under /tmp/berth-<tag>-etcd);
- per host a namespace `<tag>-a`, `<tag>-b`, ...: `eth0` at 10.213.N.11, .12, ...,
  cabled to the bridge by a veth whose switch end is `h<letter>` (`cut(host)` sets
  that end down, `mend(host)` up again);
- per host a Berth engine inside its namespace (own root, exec-root, socket, cgroup
  parent, bridge prefix and nftables table), started with
  `--cluster-store etcd://10.213.N.1:2379 --cluster-advertise 10.213.N.1x`, with busybox.

Nothing is made in the machine's own network namespace, so the test traffic stays
on these links, and the same addresses can be used by two clusters at once.
`cleanup()` removes every container and engine (each reports what it left), then
etcd and its data, then the namespaces, and returns what could not be removed.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.engine import EngineProcess

ETCD_PORT = 2379
ENGINE_POOL = "172.30.0.0/16"  # each engine's local networks; private to its namespace


@dataclass
class Host:
    letter: str
    netns: str
    address: str
    engine: EngineProcess

    def run(self, *argv: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """A command in this host's network namespace."""
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", "--", *argv], capture_output=True,
                              text=True, check=check, timeout=timeout)

    def vxlan_devices(self) -> list[str]:
        out = self.run("ip", "-o", "link", "show", "type", "vxlan").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


class Cluster:
    def __init__(self, hosts: int = 3, engine_flags: tuple[str, ...] = ()) -> None:
        self.tag = "c" + secrets.token_hex(3)
        self.subnet = f"10.213.{secrets.randbelow(250) + 1}"
        self.switch = f"{self.tag}-u"
        self.store_address = f"{self.subnet}.1"
        self.etcd_dir = Path(f"/tmp/berth-{self.tag}-etcd")
        self.etcd: subprocess.Popen[bytes] | None = None
        self.engine_flags = engine_flags
        self.hosts = [Host(letter, f"{self.tag}-{letter}", f"{self.subnet}.{11 + i}",
                           EngineProcess(pool=ENGINE_POOL, netns=f"{self.tag}-{letter}"))
                      for i, letter in enumerate("abcdefgh"[:hosts])]
        self.namespaces: list[str] = []

    @property
    def store(self) -> str:
        return f"etcd://{self.store_address}:{ETCD_PORT}"

    # -- start -------------------------------------------------------------------------------------
    def start(self) -> None:
        self._make_underlay()
        self._start_etcd()
        for h in self.hosts:
            h.engine.start(["--cluster-store", self.store, "--cluster-advertise", h.address, *self.engine_flags])
            h.engine.bootstrap_busybox()

    def _ip(self, *argv: str, netns: str = "") -> None:
        cmd = ["ip", "-n", netns, *argv] if netns else ["ip", *argv]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def _make_underlay(self) -> None:
        for ns in [self.switch] + [h.netns for h in self.hosts]:
            self._ip("netns", "add", ns)
            self.namespaces.append(ns)
            self._ip("link", "set", "lo", "up", netns=ns)
        self._ip("link", "add", "br0", "type", "bridge", netns=self.switch)
        self._ip("addr", "add", f"{self.store_address}/24", "dev", "br0", netns=self.switch)
        self._ip("link", "set", "br0", "up", netns=self.switch)
        for h in self.hosts:
            self._ip("link", "add", f"h{h.letter}", "type", "veth", "peer", "name", "eth0", "netns", h.netns,
                     netns=self.switch)
            self._ip("link", "set", f"h{h.letter}", "master", "br0", "up", netns=self.switch)
            self._ip("addr", "add", f"{h.address}/24", "dev", "eth0", netns=h.netns)
            self._ip("link", "set", "eth0", "up", netns=h.netns)

    def _start_etcd(self) -> None:
        self.etcd_dir.mkdir(parents=True, exist_ok=True)
        client = f"http://{self.store_address}:{ETCD_PORT}"
        peer = "http://127.0.0.1:2380"
        argv = ["nsenter", f"--net=/run/netns/{self.switch}", "--", "etcd", "--name", "berth-test",
                "--data-dir", str(self.etcd_dir / "data"),
                "--listen-client-urls", f"{client},http://127.0.0.1:{ETCD_PORT}", "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"berth-test={peer}", "--log-level", "warn"]
        with open(self.etcd_dir / "etcd.log", "ab") as log:
            self.etcd = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.etcd.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.etcd_dir / 'etcd.log').read_text(errors='replace')[-2000:]}")
            if self.etcdctl("endpoint", "health").returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("etcd did not become healthy")

    # -- looking and poking -----------------------------------------------------------------------
    def etcdctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.switch}", "--", "etcdctl",
                               f"--endpoints=http://127.0.0.1:{ETCD_PORT}", *args],
                              check=False, capture_output=True, text=True, timeout=30)

    def keys(self, prefix: str = "berth/") -> list[str]:
        out = self.etcdctl("get", "--prefix", "--keys-only", prefix)
        assert out.returncode == 0, out.stderr
        return [k for k in out.stdout.splitlines() if k]

    def cut(self, host: Host) -> None:
        """Unplug a host from the underlay: no store, no tunnels."""
        self._ip("link", "set", f"h{host.letter}", "down", netns=self.switch)

    def mend(self, host: Host) -> None:
        self._ip("link", "set", f"h{host.letter}", "up", netns=self.switch)

    # -- cleanup -----------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        leaks: list[str] = []
        for h in self.hosts:
            if h.engine.proc is not None:
                leaks += [f"{h.letter}: {leak}" for leak in h.engine.cleanup()]
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(15)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
                self.etcd.wait()
        for ns in self.namespaces:
            pids = subprocess.run(["ip", "netns", "pids", ns], check=False, capture_output=True, text=True).stdout.split()
            if pids:
                leaks.append(f"processes {pids} in namespace {ns}")
            if subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True).returncode != 0:
                leaks.append(f"namespace {ns}")
        shutil.rmtree(self.etcd_dir, ignore_errors=True)
        if self.etcd_dir.exists():
            leaks.append(f"etcd data {self.etcd_dir}")
        left = subprocess.run(["ip", "netns", "list"], check=False, capture_output=True, text=True).stdout
        leaks += [f"namespace {line.split()[0]}" for line in left.splitlines() if line.startswith(self.tag)]
        return leaks
