"""More benchmarks: a published port's first answer, networks and volumes, builds, `ps` under a crash loop.

Same contract as `bench.cases`: each benchmark is a function of (engines, plan)
returning result rows, issues the same docker commands to both engines through
`alternate()`, and tracks everything it makes on its side (containers with
`Side.track`, networks and volumes with `Side.track_object`, built images with
`Side.track_build`) so that even an interrupted run removes it. Each also removes
what it made before it returns. Targets, from the issue: the first HTTP answer
of a published port at most 0.5x Docker; a fully cached build at most 0.5x and
an uncached one at most 1.0x; `ps` with ten containers crash-looping under
100 ms for Berth, whatever Docker does; network and volume create/rm for
information.

Traffic stays on the machine: the only HTTP is to 127.0.0.1.
"""

from __future__ import annotations

import http.client
import secrets
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.cases import Plan, median_row, ticker
from bench.engines import IMAGE, BenchError, Side
from bench.measure import alternate, time_docker
from bench.report import Row

NAMES = ("port", "network", "volume", "build", "crashloop")
HTTPD = "mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 3000 -h /www"
POLL_INTERVAL = 0.005  # between attempts; the resolution of the first-answer time
ATTEMPT_TIMEOUT = 0.25  # a SYN lost before the container's network is up must not stall a whole second
ANSWER_DEADLINE = 30.0
CRASHLOOPERS = 10
PS_SPACING = 0.1  # seconds between `ps` rounds, so the samples spread over a few seconds of the loop
CACHED_STEPS = 9  # every step after FROM says "Using cache" in a fully cached build


def free_port() -> int:
    """A TCP port nobody listens on right now, on any address (Docker's `-p H:3000` binds 0.0.0.0)."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def _answers_200(port: int) -> bool:
    """One GET http://127.0.0.1:PORT/ ; True on status 200, False on any failure or other status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ATTEMPT_TIMEOUT)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_for_200(port: int, deadline: float = ANSWER_DEADLINE) -> int:
    """Poll 127.0.0.1:PORT until it answers 200; return the attempts it took, raise BenchError after `deadline` s."""
    give_up = time.perf_counter() + deadline
    attempts = 1
    while not _answers_200(port):
        if time.perf_counter() > give_up:
            raise BenchError(f"nothing answered 200 on 127.0.0.1:{port} within {deadline:.0f} s")
        time.sleep(POLL_INTERVAL)
        attempts += 1
    return attempts


def port_first_answer(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker run -d -p H:3000 busybox httpd` until the first HTTP 200 on 127.0.0.1:H, timed as one; then rm -f.

    The clock starts before `docker run` and stops at the 200, as a user's script
    that runs the container and then curls it in a loop would see it.
    """
    attempts: dict[str, list[int]] = {side.name: [] for side in sides}

    def step(side: Side) -> dict[str, float]:
        port = free_port()
        start = time.perf_counter()
        run = time_docker(side, "run", "-d", "-p", f"{port}:3000", IMAGE, "sh", "-c", HTTPD)
        side.track(run.stdout)
        try:
            attempts[side.name].append(wait_for_200(port))
        except BenchError as exc:
            raise BenchError(f"{side.name}: {exc}") from None
        answered = time.perf_counter() - start
        side.remove([run.stdout])
        return {"answer": answered, "run": run.seconds}

    series = alternate(sides, plan.runs, step, progress=ticker(plan, "published port")).samples
    polls = ", ".join(f"{name} {statistics.median(n):g}" for name, n in attempts.items() if n)
    return [
        median_row("port_answer", "run -d -p H:3000 httpd → first HTTP 200", series, "answer", 0.5,
                   note=f"median HTTP attempts to the first 200: {polls}"),
        median_row("port_run", "  of which: run -d -p H:3000 returns", series, "run", None),
    ]


def _create_rm(sides: Sequence[Side], plan: Plan, kind: str) -> list[Row]:
    """`docker KIND create NAME` then `docker KIND rm NAME`, each timed, a fresh unique NAME every run."""
    token = secrets.token_hex(3)
    count = iter(range(1 << 30))

    def step(side: Side) -> dict[str, float]:
        name = f"berth-bench-{kind}-{token}-{next(count)}"
        create = time_docker(side, kind, "create", name)
        side.track_object(kind, name)
        rm = time_docker(side, kind, "rm", name)
        side.forget_object(kind, name)
        return {"create": create.seconds, "rm": rm.seconds}

    series = alternate(sides, plan.runs, step, progress=ticker(plan, f"{kind} create / rm")).samples
    return [
        median_row(f"{kind}_create", f"{kind} create", series, "create", None),
        median_row(f"{kind}_rm", f"{kind} rm", series, "rm", None),
    ]


def network_create_rm(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker network create NAME` (a bridge network) and `docker network rm NAME`, timed separately."""
    return _create_rm(sides, plan, "network")


def volume_create_rm(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker volume create NAME` (local driver) and `docker volume rm NAME`, timed separately."""
    return _create_rm(sides, plan, "volume")


def dockerfile(label: str) -> str:
    """A course-like ten-step Dockerfile on busybox whose LABEL step marks every image it makes with `label`."""
    return "\n".join([
        "FROM busybox",
        f"LABEL {label} berth.bench=1 description=\"bench: a course-like app\"",
        "ARG APP_DIR=/app",
        "RUN mkdir $APP_DIR",
        "WORKDIR $APP_DIR",
        "ADD server.sh config.env static ./",
        "ENV APP_PORT=3000",
        "EXPOSE $APP_PORT",
        'ENTRYPOINT ["sh", "server.sh"]',
        'CMD ["--port", "3000"]',
        "",
    ])


def write_context(directory: Path, label: str) -> None:
    """The build context: the Dockerfile, two small files and a small directory of two files."""
    (directory / "Dockerfile").write_text(dockerfile(label))
    (directory / "server.sh").write_text('echo "serving on ${APP_PORT}"\n')
    (directory / "config.env").write_text("GREETING=hello\n")
    (directory / "static").mkdir()
    (directory / "static" / "index.html").write_text("<h1>hello</h1>\n")
    (directory / "static" / "style.css").write_text("body { margin: 0 }\n")


def build(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker build --no-cache -t NAME CTX`, then `docker build -t NAME CTX` (fully cached), each timed.

    After each pair the images are removed (untimed), so every run starts from
    the same state: busybox and nothing of this context in the cache.
    """
    token = secrets.token_hex(3)
    name, label = f"berth-bench-build-{token}", f"berth.bench.run={token}"
    context = Path(tempfile.mkdtemp(prefix="berth-bench-build-"))
    problems: list[str] = []

    def step(side: Side) -> dict[str, float]:
        uncached = time_docker(side, "build", "--no-cache", "-t", name, str(context), timeout=600)
        cached = time_docker(side, "build", "-t", name, str(context), timeout=600)
        hits = cached.stdout.count("Using cache")
        if hits != CACHED_STEPS:
            problems.append(f"{side.name}: a cached build used the cache in {hits} of {CACHED_STEPS} steps")
        if stayed := side.remove_built(label):
            raise BenchError(f"{side.name}: could not remove built images: {stayed}")
        return {"uncached": uncached.seconds, "cached": cached.seconds}

    for side in sides:
        side.track_build(label)
    try:
        write_context(context, label)
        series = alternate(sides, plan.runs, step, progress=ticker(plan, "build")).samples
    finally:
        shutil.rmtree(context, ignore_errors=True)
    note = "; ".join(sorted(set(problems)))
    return [
        median_row("build_uncached", "build --no-cache (10 steps, busybox)", series, "uncached", 1.0, note=note),
        median_row("build_cached", "build, fully cached (10 steps)", series, "cached", 0.5),
    ]


def _restart_counts(side: Side, ids: list[str]) -> int:
    return sum(int(n) for n in side.docker("inspect", "--format", "{{.RestartCount}}", *ids).split())


def ps_while_crashlooping(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker ps` timed while ten `--restart always` containers exit 1 over and over, on both engines at once.

    The containers start alternating between the engines, then `ps` is timed at
    least 20 times per engine, `PS_SPACING` apart, in the first seconds of the
    loop, when restart back-off is shortest and restarts come fastest. The note
    says how many restarts happened while sampling, to show the loop was real.
    """
    loopers: dict[str, list[str]] = {side.name: [] for side in sides}
    rounds = max(plan.runs, 20)
    try:
        for _ in range(CRASHLOOPERS):
            for side in sides:
                cid = side.docker("run", "-d", "--restart", "always", IMAGE, "sh", "-c", "exit 1")
                side.track(cid)
                loopers[side.name].append(cid)
        before = {side.name: _restart_counts(side, loopers[side.name]) for side in sides}

        def step(side: Side) -> dict[str, float]:
            seconds = time_docker(side, "ps", keep_stdout=False).seconds
            time.sleep(PS_SPACING / len(sides))
            return {"ps": seconds}

        series = alternate(sides, rounds, step, warmup=0, progress=ticker(plan, "ps while crash-looping")).samples
        restarts = {side.name: _restart_counts(side, loopers[side.name]) - before[side.name] for side in sides}
    finally:
        for side in sides:
            side.remove(loopers[side.name])
    note = "restarts while sampling: " + ", ".join(f"{name} {n}" for name, n in restarts.items())
    maxima = {name: max(values) for name, values in series["ps"].items()}
    return [
        median_row("crashloop_ps", f"ps while {CRASHLOOPERS} crash-loop (median)", series, "ps", None, note=note,
                   limit=0.1),
        Row("crashloop_ps_max", f"ps while {CRASHLOOPERS} crash-loop (max)", "s", maxima["berth"],
            maxima["docker"], None),
    ]
