"""docker build with the classic builder: the CLI, the SDK and docker-compose."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import docker as docker_sdk
import pytest

from tests.support.engine import DOCKER, EngineProcess

COURSE_DOCKERFILE = """\
FROM busybox
LABEL "name"="myapp"
ARG APP_DIR=/app
RUN mkdir $APP_DIR
WORKDIR $APP_DIR
ADD main.sh .
ADD public public
ENV APP_PORT=3000
EXPOSE $APP_PORT
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \\
  CMD wget -q -O /dev/null http://localhost:${APP_PORT}/ || exit 1
ENTRYPOINT [ "sh", "main.sh" ]
CMD [ "$APP_PORT" ]
"""


def build(engine: EngineProcess, path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**engine.env, "DOCKER_BUILDKIT": "0"}
    return subprocess.run([DOCKER, "build", *args, str(path)], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def course_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    (app / "public").mkdir(parents=True)
    (app / "Dockerfile").write_text(COURSE_DOCKERFILE)
    (app / "main.sh").write_text('echo "app in $(pwd) on ${APP_PORT}"; exec httpd -f -p "$APP_PORT" -h public\n')
    (app / "public" / "index.html").write_text("<h1>course</h1>\n")
    return app


def test_course_dockerfile_builds_caches_and_rebuilds(engine: EngineProcess, course_app: Path, docker) -> None:  # type: ignore[no-untyped-def]
    first = build(engine, course_app, "-t", "myapp:v1")
    assert first.returncode == 0, first.stderr
    assert "Step 12/12 : CMD [ \"$APP_PORT\" ]" in first.stdout
    assert "Successfully tagged myapp:v1" in first.stdout
    image_id = docker("image", "inspect", "-f", "{{.Id}}", "myapp:v1", check=True).out
    config = json.loads(docker("image", "inspect", "-f", "{{json .Config}}", "myapp:v1", check=True).stdout)
    assert config["Env"][-1] == "APP_PORT=3000"
    assert config["ExposedPorts"] == {"3000/tcp": {}}
    assert config["WorkingDir"] == "/app"
    assert config["Labels"] == {"name": "myapp"}
    assert config["Entrypoint"] == ["sh", "main.sh"] and config["Cmd"] == ["$APP_PORT"]
    assert config["Healthcheck"]["Retries"] == 3 and config["Healthcheck"]["Interval"] == 30 * 10**9
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", "myapp:v1", check=True).out.splitlines()
    assert history[0] == '/bin/sh -c #(nop)  CMD ["$APP_PORT"]'
    assert history[8] == "|1 APP_DIR=/app /bin/sh -c mkdir $APP_DIR"
    out = docker("run", "--rm", "--entrypoint", "sh", "myapp:v1", "-c", "cat /app/public/index.html; pwd").out
    assert out == "<h1>course</h1>\n/app"

    second = build(engine, course_app, "-t", "myapp:v1")
    assert second.returncode == 0 and second.stdout.count("Using cache") == 11
    assert docker("image", "inspect", "-f", "{{.Id}}", "myapp:v1", check=True).out == image_id

    (course_app / "public" / "index.html").write_text("<h1>changed</h1>\n")
    third = build(engine, course_app, "-t", "myapp:v1")
    assert third.returncode == 0
    steps = third.stdout.split("Step ")[1:]
    cached = [s.split(" :")[0] for s in steps if "Using cache" in s]
    assert cached == [f"{i}/12" for i in range(2, 7)]
    assert docker("run", "--rm", "--entrypoint", "cat", "myapp:v1", "/app/public/index.html").out == "<h1>changed</h1>"

    # (APP_DIR=/tmp fails on `RUN mkdir /tmp`, with Docker as here: /tmp exists in the base image)
    moved = build(engine, course_app, "--build-arg", "APP_DIR=/srv", "--build-arg", "UNUSED=1", "-t", "myapp:tmp")
    assert moved.returncode == 0, moved.stderr
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in moved.stdout
    assert docker("run", "--rm", "--entrypoint", "pwd", "myapp:tmp").out == "/srv"
    docker("rmi", "myapp:v1", "myapp:tmp", check=True)


def test_multi_stage_copies_only_the_artefact(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox AS builder\nWORKDIR /src\nRUN echo artefact > out.txt && echo junk > junk.txt\n"
        "FROM busybox\nCOPY --from=builder /src/out.txt /out.txt\nCMD [\"cat\", \"/out.txt\"]\n"
    )
    r = build(engine, tmp_path, "-t", "multi:1")
    assert r.returncode == 0, r.stderr
    assert docker("run", "--rm", "multi:1").out == "artefact"
    assert docker("run", "--rm", "multi:1", "ls", "/src").returncode != 0
    target = build(engine, tmp_path, "--target", "builder", "-t", "multi:builder")
    assert target.returncode == 0
    assert docker("run", "--rm", "multi:builder", "cat", "/src/junk.txt").out == "junk"
    docker("rmi", "multi:1", "multi:builder", check=True)


def test_instructions_and_dockerignore(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a.txt").write_text("a\n")
    (tmp_path / "keep" / "b.log").write_text("log\n")
    (tmp_path / "keep" / "important.log").write_text("important\n")
    (tmp_path / "secret.env").write_text("SECRET=1\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"unpacked\n"
        info = tarfile.TarInfo("inner/file.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "bundle.tar.gz").write_bytes(buf.getvalue())
    (tmp_path / ".dockerignore").write_text("**/*.log\n!keep/important.log\nsecret.env\n")
    (tmp_path / "build.Dockerfile").write_text("""\
# escape=`
FROM busybox
ARG GREETING
ENV A=1 B="two words" `
    C=${GREETING:-hello}
ENV D ${C:+set}
SHELL ["/bin/sh", "-c"]
COPY --chown=www-data:www-data keep /keep/
ADD bundle.tar.gz /unpacked/
USER nobody
ONBUILD RUN echo triggered > /tmp/onbuild
STOPSIGNAL SIGINT
VOLUME /data
CMD echo "$A|$B|$C|$D"
""")
    r = build(engine, tmp_path, "-f", str(tmp_path / "build.Dockerfile"), "-t", "instr:1", "-t", "instr:2",
              "--label", "built.by=tests", "--no-cache")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Successfully tagged instr:2" in r.stdout
    assert docker("run", "--rm", "instr:1").out == "1|two words|hello|set"
    script = "ls /keep; stat -c %U /keep/a.txt; cat /unpacked/inner/file.txt; id -un; ls / | grep -c secret.env"
    listing = docker("run", "--rm", "instr:1", "sh", "-c", script).out
    assert listing.splitlines() == ["a.txt", "important.log", "www-data", "unpacked", "nobody", "0"]
    inspect = json.loads(docker("image", "inspect", "instr:2", check=True).stdout)[0]["Config"]
    assert inspect["Labels"] == {"built.by": "tests"} and inspect["StopSignal"] == "SIGINT"
    assert inspect["Volumes"] == {"/data": {}} and inspect["OnBuild"] == ["RUN echo triggered > /tmp/onbuild"]
    child = tmp_path / "child"
    child.mkdir()
    (child / "Dockerfile").write_text("FROM instr:1\nUSER root\n")
    rc = build(engine, child, "-t", "instr:child")
    assert rc.returncode == 0 and "# Executing 1 build trigger" in rc.stdout
    assert docker("run", "--rm", "instr:child", "cat", "/tmp/onbuild").out == "triggered"
    docker("rmi", "instr:child", "instr:1", "instr:2", check=True)


@pytest.mark.parametrize("dockerfile,message", [
    ("FROM busybox\nCOPPY a b\n", "Dockerfile parse error line 2: unknown instruction: COPPY"),
    ("RUN true\n", "Please provide a source image with `from` prior to run"),
    ("FROM busybox\nSHELL [\"/bin/sh\" \"-c\"]\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM busybox\nCOPY missing.txt /x\n", "COPY failed: file not found in build context"),
    ("FROM busybox\nCOPY ../outside /x\n", "forbidden path outside the build context"),
    ("FROM busybox\nRUN echo step-output && exit 7\n", "The command '/bin/sh -c echo step-output && exit 7' returned a non-zero code: 7"),
    ("FROM no-such-base:1\n", "no-such-base"),
    ("", "cannot be empty"),
])
def test_bad_dockerfiles(engine: EngineProcess, tmp_path: Path, docker, dockerfile: str, message: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(dockerfile)
    images_before = docker("images", "-q").out
    r = build(engine, tmp_path, "-t", "broken:1")
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
    if "code: 7" in message:
        assert r.returncode == 7
    assert docker("ps", "-aq").out == ""
    assert docker("images", "-q").out == images_before
    mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
    assert not [line for line in mountinfo if f"/tmp/berth-{engine.tag}/root/image/tmp" in line]


def test_context_with_escaping_entries_is_refused(engine: EngineProcess) -> None:
    from tests.engine.test_bad_input import call, tar_bytes

    for entries in ([("Dockerfile", b"FROM busybox\n", ""), ("../evil", b"x", "")],
                    [("Dockerfile", b"FROM busybox\nCOPY l/x /x\n", ""), ("l", b"", "../../../etc"), ("l/x", b"x", "")]):
        code, doc = call(engine, "POST", "/v1.41/build?t=evil:1", tar_bytes(entries), {"Content-Type": "application/x-tar"})
        assert code == 400 and doc["message"], doc


def test_sdk_build(engine: EngineProcess, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\nARG WHO\nRUN echo built-by-$WHO > /who\n")
    client = docker_sdk.DockerClient(base_url=engine.host, version="auto")
    try:
        image, logs = client.images.build(path=str(tmp_path), tag="sdkbuilt:1", buildargs={"WHO": "sdk"}, rm=True)
        assert any("Successfully built" in chunk.get("stream", "") for chunk in logs)
        assert client.containers.run(image.id, ["cat", "/who"], remove=True) == b"built-by-sdk\n"
        client.images.remove("sdkbuilt:1")
    finally:
        client.close()


def test_compose_build(engine: EngineProcess, tmp_path: Path) -> None:
    compose = "/usr/bin/docker-compose"
    if not os.path.exists(compose):
        pytest.skip("docker-compose is not installed")
    proj = tmp_path / "cbuild"
    (proj / "web").mkdir(parents=True)
    (proj / "web" / "Dockerfile").write_text("FROM busybox\nRUN echo from-compose > /hello\nCMD [\"cat\", \"/hello\"]\n")
    (proj / "docker-compose.yml").write_text("version: '3'\nservices:\n  web:\n    build: ./web\n    image: cbuild_web:latest\n")
    for cli_build in ("1", "0"):
        env = {**engine.env, "COMPOSE_DOCKER_CLI_BUILD": cli_build, "DOCKER_BUILDKIT": "0",
               "PATH": f"/usr/local/bin:{os.environ['PATH']}"}
        r = subprocess.run([compose, "build", "--no-cache"], cwd=proj, env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        assert engine.docker("run", "--rm", "cbuild_web:latest").out == "from-compose"
    engine.docker("rmi", "cbuild_web:latest", check=True)
