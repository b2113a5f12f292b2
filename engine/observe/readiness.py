"""Is the engine ready for work? The answer behind GET /_berth/ready.

`/_ping` is liveness: the process answers. Readiness is more: the engine's state
is loaded (container records read and re-attached to their conmons), its
networks are up (every bridge network's bridge exists and the engine's nftables
table is in place — checked live, so a flushed ruleset or a deleted bridge shows
up), and its API listeners are serving (not yet shutting down). The daemon flips
the flags as it starts and stops; `problems` adds the live checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.network import netlink, nftables


@dataclass
class Readiness:
    table: str
    bridges: Callable[[], Iterable[str]]
    state_loaded: bool = False
    networks_up: bool = False
    serving: bool = False
    stopping: bool = False

    async def problems(self) -> list[str]:
        """Why the engine is not ready, in words; empty when it is."""
        out = []
        if self.stopping:
            out.append("the engine is shutting down")
        if not self.state_loaded:
            out.append("container state is not loaded yet")
        if not self.networks_up:
            out.append("networks are not set up yet")
        else:
            out += await self._network_problems()
        if not self.serving and not self.stopping:
            out.append("the API listeners are not all serving yet")
        return out

    async def _network_problems(self) -> list[str]:
        wanted = sorted(self.bridges())
        present = set(await netlink.in_fresh_thread(lambda: netlink.links_with_prefix("")))
        out = [f"bridge {name} is missing" for name in wanted if name not in present]
        if not await nftables.table_exists("ip", self.table):
            out.append(f"nftables table ip {self.table} is missing")
        return out
