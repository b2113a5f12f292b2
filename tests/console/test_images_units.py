"""Pure parts of the images pages: progress folding, reference checks, build contexts, table rows."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from django import forms

from console.images import buildctx, listing
from console.images.forms import parse_build_args, parse_tags, reference_error
from console.images.operations import export_filename
from console.images.progress import LayerProgress


def test_pull_lines_fold_into_layer_bars_and_an_overall_fraction() -> None:
    fold = LayerProgress()
    assert fold.feed({"status": "Pulling from team/app", "id": "v1"}).log == "v1: Pulling from team/app"
    assert fold.fraction is None
    fold.feed({"status": "Already exists", "id": "aaa"})
    first = fold.feed({"status": "Downloading", "id": "bbb", "progressDetail": {"current": 50, "total": 100}})
    assert first.item == {"key": "bbb", "label": "bbb", "status": "Downloading", "fraction": 0.4, "current": 50, "total": 100}
    assert first.log == "bbb: Downloading"
    assert fold.feed({"status": "Downloading", "id": "bbb", "progressDetail": {"current": 60, "total": 100}}).log == ""
    assert fold.fraction == pytest.approx((1 + 0.48) / 2)
    extracting = fold.feed({"status": "Extracting", "id": "bbb", "progressDetail": {"current": 0, "total": 100}})
    assert extracting.item["current"] == 100  # the bytes shown are the download's, now complete
    fold.feed({"status": "Pull complete", "id": "bbb", "progressDetail": {}})
    assert fold.fraction == 1 and fold.summary == "2 of 2 layers done"
    assert fold.feed({"status": "Digest: sha256:abc"}).log == "Digest: sha256:abc"
    failed = fold.feed({"error": "manifest unknown", "errorDetail": {"message": "manifest unknown"}})
    assert failed.error == "manifest unknown" and failed.log == "Error: manifest unknown"


def test_push_lines_count_the_upload_and_keep_the_digest() -> None:
    fold = LayerProgress(push=True)
    fold.feed({"status": "Preparing", "id": "aaa"})
    assert fold.feed({"status": "Pushing", "id": "aaa", "progressDetail": {"current": 25, "total": 100}}).item["fraction"] == 0.25
    fold.feed({"status": "Layer already exists", "id": "bbb"})
    assert fold.summary == "1 of 2 layers pushed"
    assert fold.feed({"progressDetail": {}, "aux": {"Tag": "v1", "Digest": "sha256:d"}}).aux == {"Tag": "v1", "Digest": "sha256:d"}


@pytest.mark.parametrize("text, problem", [
    ("busybox", ""), ("busybox:1.36", ""), ("127.0.0.1:5000/team/app:v1", ""), ("localhost/app", ""),
    ("registry.example.com/a/b@sha256:" + "a" * 64, ""), ("[::1]:5000/app", ""),
    ("Busybox", "lowercase"), ("UPPER/case", "lowercase"), ("app:-x", "A tag"), ("app@sha256:12", "digest"), ("", "image name"),
])
def test_references_follow_dockers_grammar(text: str, problem: str) -> None:
    found = reference_error(text)
    assert (problem in found) if problem else found == ""


def test_tags_and_build_args_are_parsed_with_per_line_errors() -> None:
    assert parse_tags("a:1, b:2\nc") == ["a:1", "b:2", "c"]
    with pytest.raises(forms.ValidationError, match="digest"):
        parse_tags("a@sha256:" + "0" * 64)
    assert parse_build_args("# comment\nA=1\n\nB = two=2\n") == {"A": "1", "B": " two=2"}
    with pytest.raises(forms.ValidationError, match="Line 2"):
        parse_build_args("A=1\n9X=2")


def test_the_editors_dockerfile_replaces_the_contexts(tmp_path: Path) -> None:
    src = tmp_path / "ctx.tar.gz"
    with tarfile.open(src, "w:gz") as tar:
        for name, data in (("./Dockerfile", b"FROM old"), (".dockerignore", b"x"), ("app/main.py", b"print(1)")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "merged.tar"
    buildctx.with_dockerfile(src, "FROM new\n", "Dockerfile", out)
    with tarfile.open(out) as tar:
        names = tar.getnames()
        assert sorted(names) == [".dockerignore", "Dockerfile", "app/main.py"]
        assert tar.extractfile("Dockerfile").read() == b"FROM new\n"  # type: ignore[union-attr]
    assert buildctx.check_archive(out) == "" and "not a tar" in buildctx.check_archive(tmp_path / "ctx.tar.gz.missing")
    with pytest.raises(ValueError):
        buildctx.dockerfile_name("../Dockerfile")


def test_rows_know_tags_digests_and_users() -> None:
    images = [{"Id": "sha256:" + "a" * 64, "RepoTags": ["r:5000/app:v1", "app:latest"], "RepoDigests": ["r:5000/app@sha256:d1"],
               "Created": 1_700_000_000, "Size": 10},
              {"Id": "sha256:" + "b" * 64, "RepoTags": ["<none>:<none>"], "RepoDigests": ["<none>@<none>"], "Created": 1, "Size": 5}]
    containers = [{"Id": "c1", "Names": ["/web"], "ImageID": "sha256:" + "a" * 64, "State": "running"}]
    rows = listing.rows(images, containers)
    assert rows[0].tags == ("app:latest", "r:5000/app:v1") and rows[0].running_users == 1
    assert rows[0].digest_for("r:5000/app:v1") == "sha256:d1" and rows[0].digest_for("app:latest") == ""
    assert rows[1].dangling and [r.short_id for r in listing.select(rows, dangling=False)] == ["a" * 12]
    assert [r.short_id for r in listing.select(rows, "web")] == ["a" * 12]
    assert listing.find(rows, "bbbb") is rows[1] and listing.find(rows, "") is None
    assert listing.repository_of("r:5000/app:v1") == "r:5000/app" and listing.repository_of("r:5000/app") == "r:5000/app"
    assert export_filename("r:5000/app:v1") == "r_5000_app_v1.tar"
