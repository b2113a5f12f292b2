"""The container record and its state machine (pure).

A container is created, then runs and stops any number of times, and is finally
removed. `State` holds what Docker's inspect shows under .State; `Container`
holds the merged config and host config and everything the engine needs to find
the container's processes again after a restart (conmon's pid and start time).

Transitions (Docker's): created → running ↔ paused; running → exited (or
restarting → running); exited → running; any → removing → gone. `dead` marks a
container whose removal failed half-way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.util.timefmt import human_duration, now_ns, rfc3339

CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD = (
    "created", "running", "paused", "restarting", "removing", "exited", "dead",
)
STATUSES = (CREATED, RESTARTING, RUNNING, REMOVING, PAUSED, EXITED, DEAD)


@dataclass
class Health:
    status: str = "starting"
    failing_streak: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"Status": self.status, "FailingStreak": self.failing_streak, "Log": self.log}


@dataclass
class State:
    status: str = CREATED
    pid: int = 0
    pid_start: int = 0  # /proc/<pid>/stat start time, to tell a reused pid apart
    conmon_pid: int = 0
    conmon_start: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_ns: int = 0
    finished_ns: int = 0
    restart_count: int = 0
    has_been_started: bool = False
    manually_stopped: bool = False
    health: Health | None = None

    @property
    def running(self) -> bool:
        return self.status in (RUNNING, PAUSED, RESTARTING)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status,
            "Running": self.status in (RUNNING, PAUSED),
            "Paused": self.status == PAUSED,
            "Restarting": self.status == RESTARTING,
            "OOMKilled": self.oom_killed,
            "Dead": self.status == DEAD,
            "Pid": self.pid if self.status in (RUNNING, PAUSED) else 0,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": rfc3339(self.started_ns),
            "FinishedAt": rfc3339(self.finished_ns),
        }
        if self.health is not None:
            out["Health"] = self.health.to_json()
        return out

    def describe(self, now: int | None = None) -> str:
        """The Status column of `docker ps`: 'Up 5 minutes (healthy)', 'Exited (0) 2 hours ago'."""
        now = now or now_ns()
        if self.status in (RUNNING, PAUSED):
            text = "Up " + human_duration((now - self.started_ns) / 1e9)
            if self.status == PAUSED:
                text += " (Paused)"
            if self.health is not None:
                text += " (health: starting)" if self.health.status == "starting" else f" ({self.health.status})"
            return text
        if self.status == RESTARTING:
            return f"Restarting ({self.exit_code}) {human_duration((now - self.finished_ns) / 1e9)} ago"
        if self.status == REMOVING:
            return "Removal In Progress"
        if self.status == DEAD:
            return "Dead"
        if self.status == EXITED and self.finished_ns:
            return f"Exited ({self.exit_code}) {human_duration((now - self.finished_ns) / 1e9)} ago"
        return "Created"


@dataclass
class Container:
    id: str
    name: str  # without the leading slash
    created_ns: int
    image_id: str
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]
    state: State = field(default_factory=State)
    networks: dict[str, Any] = field(default_factory=dict)
    ports: dict[str, Any] = field(default_factory=dict)  # published: {"3000/tcp": [{"HostIp", "HostPort"}]}
    sandbox_key: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)
    layer_chain: list[str] = field(default_factory=list)
    exec_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    platform: str = "linux"

    @property
    def short_id(self) -> str:
        return self.id[:12]

    def to_record(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("exec_ids", None)
        data.pop("warnings", None)
        return data

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Container:
        state_data = dict(data.pop("state", {}))
        health = state_data.pop("health", None)
        state = State(**state_data)
        if health is not None:
            state.health = Health(**health)
        return cls(state=state, **data)
