"""Pulling from a registry: a ~50 MB image of five random layers from Debian's docker-registry on 127.0.0.1.

Same contract as `bench.cases`: a function of (engines, plan) returning result
rows, the same docker commands on both engines through `alternate()`, and
everything it makes tracked on its side (`Side.track_build`, by a label every
image of this run carries) so that even an interrupted run removes it.

Set-up, untimed: a private registry on a free 127.0.0.1 port (config, storage and
log in a temporary directory; `tests.support.registry`, as the tests start it),
an image built by Docker from busybox plus `LAYERS` layers of incompressible
random bytes, pushed once (gzip layers, as `docker push` makes them), and then
removed from Docker. Each timed run is one `docker pull` of that image into an
engine that does not have it: after every pull the image is removed again
(untimed), so the next pull downloads, checks and unpacks every layer but
busybox's, which both engines already have. Both engines treat 127.0.0.1 as an
insecure registry by default (Docker: 127.0.0.0/8; Berth: any loopback
address), so neither needs a flag. Target, from the issue: Berth no slower
than Docker (1.0x).

Traffic stays on the machine: the registry listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.cases import Plan, median_row, ticker
from bench.engines import IMAGE, BenchError, BerthSide, DockerSide, Side
from bench.measure import alternate, time_docker
from bench.report import Row
from tests.support.registry import Registry, start_registry

NAMES = ("pull",)
REPOSITORY = "bench/pull"
LAYERS = 5
LAYER_BYTES = 10_000_000  # random, so gzip cannot shrink it: ~50 MB on the wire and on disk
PUSH_TIMEOUT = 600.0
PULL_TIMEOUT = 600.0


def dockerfile(label: str) -> str:
    """busybox, a LABEL that marks every image of this run with `label`, then one COPY (one layer) per file."""
    lines = ["FROM " + IMAGE, f"LABEL {label} berth.bench=1 description=\"bench: a pull of random layers\""]
    lines += [f"COPY {_layer_file(n)} /bench/" for n in range(LAYERS)]
    return "\n".join(lines) + "\n"


def _layer_file(n: int) -> str:
    return f"layer-{n}.bin"


def write_context(directory: Path, label: str) -> None:
    """The build context: the Dockerfile and `LAYERS` files of `LAYER_BYTES` random bytes."""
    (directory / "Dockerfile").write_text(dockerfile(label))
    for n in range(LAYERS):
        (directory / _layer_file(n)).write_bytes(os.urandom(LAYER_BYTES))


def push_image(builder: Side, name: str, label: str) -> None:
    """Build `name` on `builder`, push it, and remove it (and its build chain) there again; all untimed."""
    context = Path(tempfile.mkdtemp(prefix="berth-bench-pull-"))
    try:
        write_context(context, label)
        builder.docker("build", "-q", "-t", name, str(context), timeout=PUSH_TIMEOUT)
    finally:
        shutil.rmtree(context, ignore_errors=True)
    builder.docker("push", name, timeout=PUSH_TIMEOUT)
    if stayed := builder.remove_built(label):
        raise BenchError(f"{builder.name}: could not remove the image it pushed: {stayed}")


def berth_store_entries(side: Side) -> set[str]:
    """What Berth's layer store holds on disk (layers, downloads, scratch), or nothing for another engine.

    Compared before and after each pull + rmi: anything new is a layer or a
    download the removal left behind.
    """
    if not isinstance(side, BerthSide):
        return set()
    image_root = side.process.root / "image"
    found: set[str] = set()
    for part in ("layers", "blobs", "tmp"):
        directory = image_root / part
        if directory.is_dir():
            found.update(f"{part}/{entry}" for entry in os.listdir(directory))
    return found


def remove_pulled(side: Side, name: str, label: str) -> None:
    """`docker rmi NAME` if the engine has it (untimed); then no image carrying `label` may be left."""
    if side.docker("images", "-q", name):
        side.docker("rmi", name)
    if left := side.docker("images", "-aq", "--filter", f"label={label}"):
        raise BenchError(f"{side.name}: docker rmi {name} left images {left.split()}")


def count_statuses(pull_output: str, status: str) -> int:
    """How many layers reported `status` ("Pull complete", "Already exists") in `docker pull` output."""
    return sum(1 for line in pull_output.splitlines() if line.rstrip().endswith(f": {status}"))


def pull(sides: Sequence[Side], plan: Plan) -> list[Row]:
    """`docker pull 127.0.0.1:PORT/bench/pull:latest` into an engine without it, timed to completion.

    Every pull must report "Pull complete" for all `LAYERS` random layers and
    "Already exists" for busybox's alone, or the note says otherwise; what a pull
    and rmi leave in Berth's layer store is noted too.
    """
    token = secrets.token_hex(3)
    label = f"berth.bench.run={token}"
    base = Path(tempfile.mkdtemp(prefix="berth-bench-registry-"))
    problems: list[str] = []
    registry: Registry | None = None
    for side in sides:
        side.track_build(label)
    try:
        registry = start_registry(base / "registry")
        name = f"{registry.host}/{REPOSITORY}:latest"
        plan.progress(f"pull: building and pushing {LAYERS} x {LAYER_BYTES // 1_000_000} MB of random layers "
                      f"to {registry.host}")
        push_image(next((s for s in sides if isinstance(s, DockerSide)), sides[0]), name, label)
        baseline = {side.name: berth_store_entries(side) for side in sides}

        def step(side: Side) -> dict[str, float]:
            remove_pulled(side, name, label)
            pulled = time_docker(side, "pull", name, timeout=PULL_TIMEOUT)
            complete = count_statuses(pulled.stdout, "Pull complete")
            existing = count_statuses(pulled.stdout, "Already exists")
            if (complete, existing) != (LAYERS, 1):
                problems.append(f"{side.name}: a pull had {complete} layers complete, {existing} already there "
                                f"(expected {LAYERS} and 1)")
            remove_pulled(side, name, label)
            left = berth_store_entries(side) - baseline[side.name]
            if left:
                problems.append(f"{side.name}: after rmi its store still holds {', '.join(sorted(left))}")
            return {"pull": pulled.seconds}

        series = alternate(sides, plan.runs, step, progress=ticker(plan, "pull")).samples
    finally:
        if registry is not None:
            registry.stop()  # also removes its storage
        shutil.rmtree(base, ignore_errors=True)
    size = f"{(LAYERS * LAYER_BYTES) // 1_000_000} MB"
    return [median_row("pull", f"pull {size} ({LAYERS} random layers), loopback registry", series, "pull", 1.0,
                       note="; ".join(sorted(set(problems))))]
