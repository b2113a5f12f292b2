"""Validated compose data → a `Project` (pure apart from `read_env_file`, which the caller supplies).

`normalise(data, options, line_of)` reports every problem it finds at once (a ComposeError whose problems
carry the line of the value at fault): values that do not parse (ports, durations, sizes, volumes),
named volumes or networks a service uses but the file does not declare, env_file entries that cannot be
read, unknown services in depends_on, dependency cycles, and dependencies on services whose profile is
not enabled. Services whose profiles are not enabled are left out, as docker-compose does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from console.stacks.compose import envfile, values
from console.stacks.compose.errors import ComposeError, Path, Problem, path_text
from console.stacks.compose.model import (
    DEFAULT_NETWORK, NETWORK_LABEL, PROJECT_LABEL, VERSION_LABEL, VOLUME_LABEL, COMPOSE_VERSION, Build, Dependency,
    Healthcheck, Network, Project, Resources, Service, ServiceNetwork, Volume,
)

EnvFileReader = Callable[[str], str]  # a service's env_file path → its text; raises OSError/ValueError
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")


@dataclass(frozen=True)
class Options:
    name: str
    variables: Mapping[str, str]
    read_env_file: EnvFileReader
    profiles: tuple[str, ...] = ()
    working_dir: str = ""
    config_files: tuple[str, ...] = ()


class _Normaliser:
    def __init__(self, options: Options, line_of: Callable[[Path], int | None]) -> None:
        self.o, self.line_of = options, line_of
        self.problems: list[Problem] = []

    def problem(self, path: Path, message: str) -> None:
        self.problems.append(Problem(message, self.line_of(path), path_text(path)))

    def parse(self, path: Path, fn: Callable[[Any], Any], value: Any, default: Any = None) -> Any:
        try:
            return fn(value)
        except (ValueError, KeyError, TypeError) as exc:
            self.problem(path, str(exc))
            return default

    # -- top level --------------------------------------------------------------------------------
    def project(self, data: dict[str, Any]) -> Project:
        volumes = tuple(self.volume(k, v or {}) for k, v in (data.get("volumes") or {}).items())
        declared = dict(data.get("networks") or {})
        raw = data.get("services") or {}
        if not raw:
            self.problem(("services",), "the file defines no services")
        active = {n: s or {} for n, s in raw.items() if self.enabled(s or {})}
        services = tuple(self.service(n, s) for n, s in active.items())
        self.check_references(services, set(raw), volumes, declared)
        used_default = any(not s.network_mode and any(n.name == DEFAULT_NETWORK for n in s.networks) for s in services)
        if used_default and DEFAULT_NETWORK not in declared:
            declared[DEFAULT_NETWORK] = {}
        networks = tuple(self.network(k, v or {}) for k, v in declared.items())
        if self.problems:
            raise ComposeError(self.problems)
        return Project(self.o.name, services, networks, volumes, self.o.working_dir, self.o.config_files)

    def enabled(self, service: dict[str, Any]) -> bool:
        profiles = service.get("profiles") or []
        return not profiles or any(p in self.o.profiles for p in profiles)

    def labels(self, value: Any) -> tuple[tuple[str, str], ...]:
        return tuple((k, v or "") for k, v in values.pairs(value))

    def network(self, key: str, spec: dict[str, Any]) -> Network:
        external = spec.get("external")
        if isinstance(external, dict):  # the legacy `external: {name: x}`
            name, external = str(external.get("name") or spec.get("name") or key), True
        else:
            name = str(spec.get("name") or (key if external else f"{self.o.name}_{key}"))
        labels = {**dict(self.labels(spec.get("labels"))), PROJECT_LABEL: self.o.name, NETWORK_LABEL: key,
                  VERSION_LABEL: COMPOSE_VERSION}
        return Network(key, name, str(spec.get("driver") or ""), bool(external), bool(spec.get("internal")),
                       tuple(labels.items()), tuple((k, str(v)) for k, v in (spec.get("driver_opts") or {}).items()))

    def volume(self, key: str, spec: dict[str, Any]) -> Volume:
        external = spec.get("external")
        if isinstance(external, dict):
            name, external = str(external.get("name") or spec.get("name") or key), True
        else:
            name = str(spec.get("name") or (key if external else f"{self.o.name}_{key}"))
        labels = {**dict(self.labels(spec.get("labels"))), PROJECT_LABEL: self.o.name, VOLUME_LABEL: key,
                  VERSION_LABEL: COMPOSE_VERSION}
        return Volume(key, name, str(spec.get("driver") or ""), bool(external), tuple(labels.items()),
                      tuple((k, str(v)) for k, v in (spec.get("driver_opts") or {}).items()))

    # -- one service ------------------------------------------------------------------------------
    def service(self, name: str, s: dict[str, Any]) -> Service:
        at: Path = ("services", name)
        build = self.build(at + ("build",), s["build"]) if s.get("build") is not None else None
        image = str(s.get("image") or (f"{self.o.name}_{name}" if build else ""))
        if not image:
            self.problem(at, "the service needs an image (or a build)")
        deploy = s.get("deploy") or {}
        replicas = deploy.get("replicas", s.get("scale", 1))
        return Service(
            name=name, image=image, build=build,
            command=self.parse(at + ("command",), values.command, s.get("command")),
            entrypoint=self.parse(at + ("entrypoint",), values.command, s.get("entrypoint")),
            environment=self.environment(at, s), labels=self.labels(s.get("labels")),
            ports=tuple(p for i, e in enumerate(s.get("ports") or []) for p in self.parse(at + ("ports", i), values.ports, e, [])),
            expose=tuple(str(e) for e in s.get("expose") or []),
            mounts=tuple(m for i, v in enumerate(s.get("volumes") or [])
                         if (m := self.parse(at + ("volumes", i), values.volume, v)) is not None),
            networks=self.service_networks(s), network_mode=str(s.get("network_mode") or ""),
            depends_on=self.depends_on(at, s.get("depends_on")), healthcheck=self.healthcheck(at, s.get("healthcheck")),
            restart=str(s.get("restart") or "no"), replicas=int(replicas if replicas is not None else 1),
            resources=self.resources(at + ("deploy", "resources"), deploy.get("resources") or {}),
            profiles=tuple(s.get("profiles") or ()), working_dir=str(s.get("working_dir") or ""),
            user=str(s.get("user") or ""), hostname=str(s.get("hostname") or ""), tty=bool(s.get("tty")),
            stdin_open=bool(s.get("stdin_open")), privileged=bool(s.get("privileged")), read_only=bool(s.get("read_only")),
            init=s.get("init"), stop_signal=str(s.get("stop_signal") or ""),
            stop_grace_period=self.parse(at + ("stop_grace_period",), values.duration, s.get("stop_grace_period") or 0, 0)
            // 1_000_000_000,
            container_name=str(s.get("container_name") or ""), extra_hosts=self.extra_hosts(s.get("extra_hosts")),
            cap_add=tuple(s.get("cap_add") or ()), cap_drop=tuple(s.get("cap_drop") or ()),
            dns=tuple([s["dns"]] if isinstance(s.get("dns"), str) else s.get("dns") or ()),
            shm_size=self.parse(at + ("shm_size",), values.size, s.get("shm_size") or 0, 0), line=self.line_of(at),
            **self.placement(at, s),
        )

    def placement(self, at: Path, s: dict[str, Any]) -> dict[str, Any]:
        """The service's endpoint wish (console/endpoints/placement.py) and the line it is written on."""
        from console.endpoints.placement import EXTENSION, LABEL, wish_of

        extension, labels = s.get(EXTENSION), dict(self.labels(s.get("labels")))
        where = at + (EXTENSION,) if extension is not None else at + ("labels", LABEL) if LABEL in labels else at
        if extension is not None and not isinstance(extension, str):
            self.problem(where, "give an endpoint's name (or ENVIRONMENT/NAME) as a string")
            return {}
        try:
            wish = wish_of(extension, labels)
        except ValueError as exc:
            self.problem(where, str(exc))
            return {}
        return {"placement": wish, "placement_line": self.line_of(where) or self.line_of(at)}

    def build(self, path: Path, spec: Any) -> Build:
        if isinstance(spec, str):
            return Build(spec)
        args = tuple((k, v if v is not None else self.o.variables.get(k, "")) for k, v in values.pairs(spec.get("args")))
        return Build(str(spec.get("context") or "."), str(spec.get("dockerfile") or "Dockerfile"), args,
                     str(spec.get("target") or ""))

    def environment(self, at: Path, s: dict[str, Any]) -> tuple[tuple[str, str], ...]:
        """env_file entries first (in order), then `environment:`; a bare NAME takes the stack's variable."""
        env: dict[str, str] = {}
        files = s.get("env_file") or []
        for i, path in enumerate([files] if isinstance(files, str) else files):
            where = at + ("env_file",) + ((i,) if not isinstance(files, str) else ())
            try:
                entries = envfile.parse(self.o.read_env_file(str(path)), f"env_file {path}")
            except ComposeError as exc:
                self.problems.extend(Problem(f"{p.message} (line {p.line} of {path})", self.line_of(where),
                                             path_text(where)) for p in exc.problems)
                continue
            except (OSError, ValueError) as exc:
                self.problem(where, f"cannot read env_file {path}: {exc}")
                continue
            env.update({k: v if v is not None else self.o.variables.get(k, "") for k, v in entries.items()
                        if v is not None or k in self.o.variables})
        for key, value in values.pairs(s.get("environment")):
            if value is not None:
                env[key] = value
            elif key in self.o.variables:
                env[key] = self.o.variables[key]
        return tuple(env.items())

    def service_networks(self, s: dict[str, Any]) -> tuple[ServiceNetwork, ...]:
        if s.get("network_mode"):
            return ()
        nets = s.get("networks")
        if not nets:
            return (ServiceNetwork(DEFAULT_NETWORK),)
        if isinstance(nets, list):
            return tuple(ServiceNetwork(str(n)) for n in nets)
        return tuple(ServiceNetwork(str(k), tuple((v or {}).get("aliases") or ()), str((v or {}).get("ipv4_address") or ""))
                     for k, v in nets.items())

    def depends_on(self, at: Path, value: Any) -> tuple[Dependency, ...]:
        if isinstance(value, list):
            return tuple(Dependency(str(d)) for d in value)
        deps = []
        for name, spec in (value or {}).items():
            condition = str((spec or {}).get("condition") or "service_started")
            if condition not in CONDITIONS:
                self.problem(at + ("depends_on", name), f"condition '{condition}' is not one of {', '.join(CONDITIONS)}")
            deps.append(Dependency(str(name), condition))
        return tuple(deps)

    def healthcheck(self, at: Path, spec: Any) -> Healthcheck | None:
        if not spec:
            return None
        at = at + ("healthcheck",)
        if spec.get("disable"):
            return Healthcheck(("NONE",), disabled=True)
        test = spec.get("test")
        test = ("CMD-SHELL", test) if isinstance(test, str) else tuple(str(t) for t in test or ())
        if test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            self.problem(at + ("test",), "a test list starts with CMD, CMD-SHELL or NONE")
        ns = {k: self.parse(at + (k,), values.duration, spec.get(k) or 0, 0) for k in ("interval", "timeout", "start_period")}
        return Healthcheck(test, ns["interval"], ns["timeout"], ns["start_period"], int(spec.get("retries") or 0),
                           disabled=test[:1] == ("NONE",))

    def resources(self, at: Path, spec: dict[str, Any]) -> Resources:
        limits, reservations = spec.get("limits") or {}, spec.get("reservations") or {}
        cpus = self.parse(at + ("limits", "cpus"), float, limits.get("cpus") or 0, 0.0)
        return Resources(cpus, self.parse(at + ("limits", "memory"), values.size, limits.get("memory") or 0, 0),
                         int(limits.get("pids") or 0),
                         self.parse(at + ("reservations", "memory"), values.size, reservations.get("memory") or 0, 0))

    def extra_hosts(self, value: Any) -> tuple[str, ...]:
        if isinstance(value, dict):
            return tuple(f"{k}:{v}" for k, v in value.items())
        return tuple(str(v).replace("=", ":", 1) if "=" in str(v) else str(v) for v in value or ())

    # -- references between parts ---------------------------------------------------------------
    def check_references(self, services: tuple[Service, ...], all_names: set[str], volumes: tuple[Volume, ...],
                         networks: dict[str, Any]) -> None:
        active, keys = {s.name for s in services}, {v.key for v in volumes}
        for s in services:
            at: Path = ("services", s.name)
            if s.container_name and s.replicas > 1:
                self.problem(at + ("container_name",), "a service with a container_name cannot have more than one "
                                                       "replica (container names are unique)")
            for dep in s.depends_on:
                if dep.service not in all_names:
                    self.problem(at + ("depends_on", dep.service), f"service '{dep.service}' is not defined")
                elif dep.service not in active:
                    self.problem(at + ("depends_on", dep.service),
                                 f"service '{dep.service}' is in a profile that is not enabled")
            for i, mount in enumerate(s.mounts):
                if mount.kind == "volume" and mount.source not in keys:
                    self.problem(at + ("volumes", i), f"named volume '{mount.source}' is not declared under the "
                                                      "top-level volumes:")
                if mount.kind == "bind" and not mount.source.startswith("/") and not self.o.working_dir:
                    self.problem(at + ("volumes", i), f"'{mount.source}' is relative, and this stack has no project "
                                                      "directory: give an absolute host path")
            for net in s.networks:
                if net.name != DEFAULT_NETWORK and net.name not in networks:
                    self.problem(at + ("networks",), f"network '{net.name}' is not declared under the top-level networks:")
        self.check_cycles(services)

    def check_cycles(self, services: tuple[Service, ...]) -> None:
        graph = {s.name: [d.service for d in s.depends_on] for s in services}
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == 2 or name not in graph:
                return
            if state.get(name) == 1:
                cycle = trail[trail.index(name):] + [name]
                self.problem(("services", cycle[0], "depends_on"), "dependency cycle: " + " → ".join(cycle))
                return
            state[name] = 1
            for dep in graph[name]:
                visit(dep, trail + [name])
            state[name] = 2

        for name in graph:
            visit(name, [])


def normalise(data: dict[str, Any], options: Options, line_of: Callable[[Path], int | None]) -> Project:
    """The Project for `data` (already interpolated and schema-checked); ComposeError lists every problem."""
    return _Normaliser(options, line_of).project(data)
