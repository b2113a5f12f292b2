"""Restart policies (no, always, unless-stopped, on-failure[:N]) with Docker's back-off.

After a container ends by itself, `should_restart` decides by Docker's rules; a
restart waits `delay`, which starts at 100 ms and doubles while the container
keeps failing fast, and is reset once it has run for 10 s. A manual stop or kill
is respected. At engine start, `restart_at_boot` says which stopped containers
come back (a host reboot killed them).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.containers.model import Container

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
RESET_AFTER_NS = 10 * 10**9


@dataclass
class Backoff:
    delay: float = 0.0

    def next(self, ran_ns: int) -> float:
        if ran_ns >= RESET_AFTER_NS or self.delay == 0:
            self.delay = BACKOFF_START
        else:
            self.delay = min(self.delay * 2, BACKOFF_MAX)
        return self.delay


def policy(c: Container) -> tuple[str, int]:
    p = c.host_config.get("RestartPolicy") or {}
    return (p.get("Name") or "no"), int(p.get("MaximumRetryCount") or 0)


def should_restart(c: Container) -> bool:
    """After the container ended by itself (not at engine start)."""
    name, maximum = policy(c)
    if c.state.manually_stopped or c.host_config.get("AutoRemove"):
        return False
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure":
        return c.state.exit_code != 0 and (maximum == 0 or c.state.restart_count < maximum)
    return False


def restart_at_boot(c: Container) -> bool:
    """Docker's daemon start: always comes back even after a manual stop; unless-stopped does not."""
    name, maximum = policy(c)
    if not c.state.has_been_started or c.host_config.get("AutoRemove"):
        return False
    if name == "always":
        return True
    if name == "unless-stopped":
        return not c.state.manually_stopped
    if name == "on-failure":
        return not c.state.manually_stopped and c.state.exit_code != 0 and (maximum == 0 or c.state.restart_count < maximum)
    return False
