"""GET /events: live stream, since/until replay, filters, through the docker CLI."""

from __future__ import annotations

import json
import subprocess
import time

from tests.support.engine import DOCKER


def test_events_replay_with_since_until(docker) -> None:  # type: ignore[no-untyped-def]
    start = int(time.time()) - 1
    docker("run", "--name", "ev1", "busybox", "true", check=True)
    docker("rm", "ev1", check=True)
    time.sleep(1.1)
    until = int(time.time())
    r = docker("events", "--since", str(start), "--until", str(until), "--filter", "container=ev1",
               "--format", "{{.Type}} {{.Action}}", timeout=20)
    actions = r.out.splitlines()
    assert actions[:3] == ["container create", "container attach", "container start"]
    assert "container die" in actions and actions[-1] == "container destroy"


def test_events_filter_by_type_and_event(docker) -> None:  # type: ignore[no-untyped-def]
    start = int(time.time()) - 1
    docker("tag", "busybox", "evtag:1", check=True)
    docker("rmi", "evtag:1", check=True)
    time.sleep(1.1)
    r = docker("events", "--since", str(start), "--until", str(int(time.time())), "--filter", "type=image", "--filter", "image=evtag:1",
               "--format", "{{json .}}", timeout=20)
    docs = [json.loads(line) for line in r.out.splitlines()]
    assert [d["Action"] for d in docs] == ["tag", "untag"]
    assert docs[0]["Actor"]["Attributes"]["name"] == "evtag:1"


def test_events_stream_live(engine, docker) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([DOCKER, "events", "--filter", "event=start", "--format", "{{.Actor.Attributes.name}}"],
                            env=engine.env, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        docker("run", "--rm", "--name", "live1", "busybox", "true", check=True)
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "live1"
    finally:
        proc.terminate()
        proc.wait(5)
