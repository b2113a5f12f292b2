"""Pull, push and login against Debian's docker-registry on loopback, with the real docker CLI."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.snapshots.layers import chain_ids
from tests.engine.test_tls import make_pki
from tests.support.engine import EngineProcess
from tests.support.registry import FlakyProxy, Registry, http_json, start_registry

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None, reason="Debian's docker-registry is not installed")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


def _layered_image(engine: EngineProcess, tmp_path: Path, tag: str, extra: str) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM busybox\nRUN echo one > /one\nRUN head -c 3000000 /dev/urandom > /blob-{extra}\n")
    r = subprocess.run(["/usr/local/bin/docker", "build", "-q", "-t", tag, str(tmp_path)],
                       env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_push_remove_pull_run_and_digest(engine: EngineProcess, registry: Registry, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"{registry.host}/course/app"
    _layered_image(engine, tmp_path, f"{name}:v1", "a")
    push = docker("push", f"{name}:v1")
    assert push.returncode == 0, push.stderr
    assert "Pushed" in push.stdout and "v1: digest: sha256:" in push.stdout
    digest = push.stdout.split("digest: ")[1].split()[0]
    image_id = docker("image", "inspect", "-f", "{{.Id}}", f"{name}:v1", check=True).out
    # GET /distribution/{name}/json: the registry's descriptor for the tag, without pulling
    import docker as sdk

    dist = sdk.APIClient(base_url=engine.host).inspect_distribution(f"{name}:v1")
    assert dist["Descriptor"]["digest"] == digest and dist["Descriptor"]["size"] > 0
    assert dist["Platforms"] == [{"architecture": "amd64", "os": "linux"}]
    docker("rmi", f"{name}:v1", check=True)
    pull = docker("pull", f"{name}:v1")
    assert pull.returncode == 0, pull.stderr
    assert f"Digest: {digest}" in pull.stdout and "Status: Downloaded newer image" in pull.stdout
    assert docker("image", "inspect", "-f", "{{.Id}}", f"{name}:v1", check=True).out == image_id
    assert docker("run", "--rm", f"{name}:v1", "cat", "/one").out == "one"
    assert f"Status: Image is up to date for {name}:v1" in docker("pull", f"{name}:v1").stdout
    docker("rmi", f"{name}:v1", check=True)
    by_digest = docker("pull", f"{name}@{digest}")
    assert by_digest.returncode == 0, by_digest.stderr
    assert f"{name}@{digest}" in docker("images", "--digests", "--format", "{{.Repository}}@{{.Digest}}").out
    # a second image on top of the first shares its layers: they are skipped
    second = tmp_path / "second"
    second.mkdir()
    (second / "Dockerfile").write_text(f"FROM {name}@{digest}\nRUN echo two > /two\n")
    r = subprocess.run(["/usr/local/bin/docker", "build", "-q", "-t", f"{name}:v2", str(second)],
                       env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    push2 = docker("push", f"{name}:v2", check=True).stdout
    assert push2.count("Layer already exists") == 3, push2
    assert push2.count("Pushed") == 1
    docker("rmi", f"{name}:v2", f"{name}@{digest}", check=True)


def test_pull_errors_leave_no_partial_image(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    registry = start_registry(tmp_path / "own-registry")  # its storage holds only this test's blobs
    try:
        _check_pull_errors(engine, registry, tmp_path, docker)
    finally:
        registry.stop()


def _check_pull_errors(engine: EngineProcess, registry: Registry, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"{registry.host}/broken/app"
    _layered_image(engine, tmp_path, f"{name}:v1", "c")
    docker("push", f"{name}:v1", check=True)
    docker("rmi", f"{name}:v1", check=True)
    # the largest blob in the registry's storage is our random layer: corrupt it
    blobs = sorted((p for p in registry.storage.rglob("data") if p.is_file()), key=lambda p: p.stat().st_size)
    victim = blobs[-1]
    original = victim.read_bytes()
    victim.write_bytes(original[:-10] + b"0123456789")
    images_before = docker("images", "-q").out
    r = docker("pull", f"{name}:v1")
    assert r.returncode != 0 and "verification failed" in (r.stderr + r.stdout)
    assert docker("images", "-q").out == images_before
    # nothing of the corrupt layer stays: no layer dir, no unpacking scratch, no blob or partial download
    victim_hex = victim.parent.name
    assert not [p for p in (engine.root / "image/blobs").iterdir() if p.name.startswith(victim_hex)]
    assert list((engine.root / "image/tmp").iterdir()) == []
    assert all(not (d / "layer.tar.gz").exists() or json.loads((d / "blob.json").read_text())["digest"] != f"sha256:{victim_hex}"
               for d in (engine.root / "image/layers").iterdir())
    victim.write_bytes(original)
    assert docker("pull", f"{name}:v1").returncode == 0
    docker("rmi", f"{name}:v1", check=True)

    # unknown tags and repositories
    r = docker("pull", f"{registry.host}/nothing/here:v9")
    assert r.returncode != 0 and "not found" in r.stderr


def _layer_dirs(engine: EngineProcess, image: str) -> list[Path]:
    diff_ids = json.loads(engine.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", image, check=True).out)
    return [engine.root / "image/layers" / c.removeprefix("sha256:") for c in chain_ids(diff_ids)]


def test_a_pulled_layer_keeps_only_its_blob_and_saves_as_its_diff_id(engine: EngineProcess, registry: Registry,
                                                                     tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    name = f"{registry.host}/course/stored"
    _layered_image(engine, tmp_path, f"{name}:v1", "s")
    docker("push", f"{name}:v1", check=True)
    docker("rmi", f"{name}:v1", check=True)
    docker("pull", f"{name}:v1", check=True)
    for layer_dir in _layer_dirs(engine, f"{name}:v1"):  # busybox's too: the push gave it a gzip blob
        assert sorted(os.listdir(layer_dir)) == ["blob.json", "diff", "layer.tar.gz", "meta.json"]
    archive = tmp_path / "saved.tar"
    docker("save", "-o", str(archive), f"{name}:v1", check=True)
    diff_ids = json.loads(docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", f"{name}:v1", check=True).out)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        saved = []
        for path in manifest[0]["Layers"]:
            member = tar.extractfile(path)
            assert member is not None
            saved.append("sha256:" + hashlib.sha256(member.read()).hexdigest())
    assert saved == diff_ids
    docker("rmi", f"{name}:v1", check=True)
    assert docker("load", "-i", str(archive), check=True).out == f"Loaded image: {name}:v1"
    assert docker("run", "--rm", f"{name}:v1", "cat", "/one").out == "one"
    docker("rmi", f"{name}:v1", check=True)


def test_a_layer_that_does_not_match_its_diff_id_leaves_nothing(engine: EngineProcess, registry: Registry) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("liar")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"lies"))
    blob = gzip.compress(layer.getvalue())
    wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    _push_one_layer_image(registry, "bad/diffid", "v1", blob, "application/vnd.docker.image.rootfs.diff.tar.gzip", wrong)
    layers_before = sorted(os.listdir(engine.root / "image/layers"))
    blobs_before = sorted(os.listdir(engine.root / "image/blobs"))
    r = engine.docker("pull", f"{registry.host}/bad/diffid:v1")
    assert r.returncode != 0 and "does not match its diff ID" in r.stderr
    assert engine.docker("images", "-q", f"{registry.host}/bad/diffid").out == ""
    assert sorted(os.listdir(engine.root / "image/layers")) == layers_before
    assert list((engine.root / "image/tmp").iterdir()) == []
    assert sorted(os.listdir(engine.root / "image/blobs")) == blobs_before


def test_concurrent_pulls_of_images_sharing_layers(engine: EngineProcess, registry: Registry, tmp_path: Path,
                                                   docker) -> None:  # type: ignore[no-untyped-def]
    name = f"{registry.host}/course/shared"
    _layered_image(engine, tmp_path, f"{name}:base", "shared")
    (tmp_path / "Dockerfile").write_text(f"FROM {name}:base\nRUN echo two > /two\n")
    r = subprocess.run(["/usr/local/bin/docker", "build", "-q", "-t", f"{name}:top", str(tmp_path)],
                       env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for tag in ("base", "top"):
        docker("push", f"{name}:{tag}", check=True)
    docker("rmi", f"{name}:top", f"{name}:base", check=True)
    blobs_before = sorted(os.listdir(engine.root / "image/blobs"))
    for attempt in range(2):  # twice: the same image twice at once, then the two images at once
        tags = ("top", "top") if attempt == 0 else ("base", "top")
        pulls = [subprocess.Popen(["/usr/local/bin/docker", "pull", f"{name}:{tag}"], env=engine.env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for tag in tags]
        outputs = []
        for p in pulls:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, out + err
            outputs.append(out)
        # each of the three new layers was downloaded and unpacked once, by one of the two pulls
        completed = [line.split(":")[0] for out in outputs for line in out.splitlines() if line.endswith(": Pull complete")]
        assert len(completed) == len(set(completed)) == 3, outputs
        assert docker("run", "--rm", f"{name}:top", "cat", "/one", "/two").out == "one\ntwo"
        for layer_dir in _layer_dirs(engine, f"{name}:top"):
            assert sorted(os.listdir(layer_dir)) == ["blob.json", "diff", "layer.tar.gz", "meta.json"]
        assert list((engine.root / "image/tmp").iterdir()) == []
        assert sorted(os.listdir(engine.root / "image/blobs")) == blobs_before
        docker("rmi", *sorted({f"{name}:{tag}" for tag in tags}), check=True)


def test_dropped_connections_resume_or_fail_cleanly(engine: EngineProcess, registry: Registry, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    proxy = FlakyProxy(registry.port, cut_after=100_000).start()
    try:
        name = f"127.0.0.1:{proxy.port}/flaky/app"
        proxy.cut_after = None
        _layered_image(engine, tmp_path, f"{name}:v1", "d")
        docker("push", f"{name}:v1", check=True)
        docker("rmi", f"{name}:v1", check=True)
        proxy.cut_after = 100_000  # every blob download stops after 100 kB
        images_before = docker("images", "-q").out
        r = docker("pull", f"{name}:v1", timeout=120)
        assert r.returncode != 0 and "failed to download layer" in r.stderr
        assert docker("images", "-q").out == images_before
        proxy.cut_after = None
        again = docker("pull", f"{name}:v1", timeout=120)
        assert again.returncode == 0, again.stderr
        assert docker("run", "--rm", f"{name}:v1", "cat", "/one").out == "one"
        docker("rmi", f"{name}:v1", check=True)
        # one cut per attempt, then a clean resume: the pull succeeds on its own
        proxy.cut_after = 150_000
        cuts = proxy.cuts

        def heal() -> None:
            import time

            while proxy.cuts == cuts:
                time.sleep(0.05)
            proxy.cut_after = None

        import threading

        threading.Thread(target=heal, daemon=True).start()
        resumed = docker("pull", f"{name}:v1", timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        docker("rmi", f"{name}:v1", check=True)
    finally:
        proxy.stop()


def test_manifest_for_another_platform(engine: EngineProcess, registry: Registry) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps({"architecture": "arm64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    base = f"http://{registry.host}/v2/other/arch"
    for blob in (layer_bytes, config):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        location = _start_upload(base)
        http_json(f"{location}{'&' if '?' in location else '?'}digest={digest}", "PUT", blob,
                  {"Content-Type": "application/octet-stream"})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                                      "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar", "size": len(layer_bytes),
                                       "digest": diff_id}]}).encode()
    mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    http_json(f"{base}/manifests/arm", "PUT", manifest, {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                       "size": len(manifest), "digest": mdigest,
                                       "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}}]}).encode()
    http_json(f"{base}/manifests/multi", "PUT", index, {"Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json"})
    before = engine.docker("images", "-q").out
    r = engine.docker("pull", f"{registry.host}/other/arch:multi")
    assert r.returncode != 0 and "no matching manifest for linux/amd64" in r.stderr
    assert engine.docker("images", "-q").out == before


def _push_one_layer_image(registry: Registry, repo: str, tag: str, blob: bytes, media_type: str, diff_id: str) -> None:
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    base = f"http://{registry.host}/v2/{repo}"
    for data in (blob, config):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        location = _start_upload(base)
        http_json(f"{location}{'&' if '?' in location else '?'}digest={digest}", "PUT", data,
                  {"Content-Type": "application/octet-stream"})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                                      "digest": "sha256:" + hashlib.sha256(config).hexdigest()},
                           "layers": [{"mediaType": media_type, "size": len(blob),
                                       "digest": "sha256:" + hashlib.sha256(blob).hexdigest()}]}).encode()
    http_json(f"{base}/manifests/{tag}", "PUT", manifest, {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})


def _start_upload(base: str) -> str:
    import urllib.request

    req = urllib.request.Request(f"{base}/blobs/uploads/", method="POST", data=b"")
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback registry only
        location = resp.headers["Location"]
    return location if location.startswith("http") else base.split("/v2/")[0] + location


def test_login_and_auth(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    reg = start_registry(tmp_path / "authreg", htpasswd=("alice", "s3cret-pw"))
    try:
        name = f"{reg.host}/private/app"
        docker("tag", "busybox", f"{name}:v1", check=True)
        denied = docker("push", f"{name}:v1")
        assert denied.returncode != 0 and ("authentication required" in denied.stderr or "no basic auth" in denied.stderr)
        bad = docker("login", "-u", "alice", "--password-stdin", reg.host, input="wrong\n")
        assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower()
        ok = docker("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret-pw\n")
        assert ok.returncode == 0 and "Login Succeeded" in ok.stdout
        assert docker("push", f"{name}:v1").returncode == 0
        docker("rmi", f"{name}:v1", check=True)
        assert docker("pull", f"{name}:v1").returncode == 0
        docker("logout", reg.host, check=True)
        docker("rmi", f"{name}:v1", check=True)
        r = docker("pull", f"{name}:v1")
        assert r.returncode != 0 and ("authentication required" in r.stderr or "denied" in r.stderr)
        # the engine keeps no credentials
        assert "s3cret-pw" not in subprocess.run(["grep", "-r", "s3cret-pw", str(engine.root)], capture_output=True, text=True).stdout
    finally:
        reg.stop()


def test_build_from_a_private_registry_uses_the_clients_login(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    """docker build sends every login it has in X-Registry-Config; FROM pulls with the one for its registry."""
    password = "b-s3cret-pw"
    reg = start_registry(tmp_path / "buildreg", htpasswd=("builder", password))
    base = f"{reg.host}/private/busybox"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN echo built > /built\n")

    def build() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/usr/local/bin/docker", "build", "-t", "from-private:1", str(context)],
                              env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)

    try:
        docker("login", "-u", "builder", "--password-stdin", reg.host, input=password + "\n", check=True)
        docker("tag", "busybox", base, check=True)
        docker("push", base, check=True)
        docker("rmi", base, check=True)
        r = build()
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"Status: Downloaded newer image for {base}:latest" in r.stdout
        assert docker("run", "--rm", "from-private:1", "cat", "/built", check=True).out == "built"
        assert docker("image", "inspect", base).returncode == 0  # pulled and tagged, as docker pull would

        docker("logout", reg.host, check=True)
        docker("rmi", "from-private:1", base, check=True)
        denied = build()
        assert denied.returncode != 0
        assert "denied" in denied.stderr + denied.stdout or "authentication required" in denied.stderr + denied.stdout
        assert docker("image", "inspect", base).returncode != 0
        # credentials pass through: neither the log nor the state keeps them
        assert password not in engine.log_path.read_text(errors="replace")
        assert password not in subprocess.run(["grep", "-r", password, str(engine.root)], capture_output=True, text=True).stdout
    finally:
        docker("logout", reg.host)
        docker("rmi", "from-private:1", base)
        reg.stop()


def test_build_pull_takes_the_registrys_base_over_the_local_one(engine: EngineProcess, tmp_path: Path, docker) -> None:  # type: ignore[no-untyped-def]
    """`docker build --pull`: FROM is pulled even though an image of that name is here."""
    reg = start_registry(tmp_path / "pullreg")
    base = f"{reg.host}/pulled/base"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {base}\nRUN cat /origin\n")

    def build(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/usr/local/bin/docker", "build", *flags, "-t", "pulled-child:1", str(context)],
                              env={**engine.env, "DOCKER_BUILDKIT": "0"}, capture_output=True, text=True, timeout=120)

    try:
        docker("run", "--name", "origin-registry", "busybox", "sh", "-c", "echo registry > /origin", check=True)
        docker("commit", "origin-registry", base, check=True)
        docker("push", base, check=True)
        docker("rm", "origin-registry", check=True)
        docker("run", "--name", "origin-local", "busybox", "sh", "-c", "echo local > /origin", check=True)
        docker("commit", "origin-local", base, check=True)  # the same name, other content, only here
        docker("rm", "origin-local", check=True)
        local = build()
        assert local.returncode == 0 and "\nlocal\n" in local.stdout, local.stdout + local.stderr
        pulled = build("--pull", "--no-cache")
        assert pulled.returncode == 0, pulled.stdout + pulled.stderr
        assert f"Status: Downloaded newer image for {base}:latest" in pulled.stdout and "\nregistry\n" in pulled.stdout
    finally:
        docker("rmi", "-f", "pulled-child:1", base)
        reg.stop()


def test_tls_registry_with_a_test_ca(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    reg = start_registry(tmp_path / "tlsreg", tls=(pki / "server.pem", pki / "server-key.pem"))
    certs = tmp_path / "certs.d"
    (certs / reg.host).mkdir(parents=True)
    shutil.copy(pki / "ca.pem", certs / reg.host / "ca.crt")
    e = EngineProcess()
    e.start(["--certs-dir", str(certs)])
    try:
        e.bootstrap_busybox()
        name = f"{reg.host}/secure/app"
        e.docker("tag", "busybox", f"{name}:v1", check=True)
        r = e.docker("push", f"{name}:v1")
        assert r.returncode == 0, r.stderr
        e.docker("rmi", f"{name}:v1", check=True)
        assert e.docker("pull", f"{name}:v1").returncode == 0
    finally:
        leaks = e.cleanup()
        reg.stop()
    assert not leaks  # the registry speaks only TLS, so the round trip above went over it
