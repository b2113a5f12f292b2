"""The layer store on a real filesystem: one archive form per layer, one-pass unpack, concurrent adds."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
from pathlib import Path

import pytest

from engine.errors import InvalidArgument
from engine.snapshots.layers import LayerStore, chain_id
from engine.snapshots.tarsafe import UnsafeArchive

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="unpacking layers sets owners and makes whiteout devices")


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def store(tmp_path: Path) -> LayerStore:
    return LayerStore(str(tmp_path / "image"))


def read_tar(store: LayerStore, chain: str) -> bytes:
    with store.open_tar(store.get(chain)) as src:
        data = src.read()
        assert len(data) == src.size
    return data


def test_it_keeps_a_gzip_blob_as_the_only_archive(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"etc/hello": b"hi\n"})
    blob = gzip.compress(tar, mtime=0)
    layer = store.add_from_file(None, write(tmp_path / "blob", blob), expected_diff_id=sha(tar), blob_digest=sha(blob))
    assert sorted(os.listdir(layer.path)) == ["blob.json", "diff", "layer.tar.gz", "meta.json"]
    assert (Path(layer.diff) / "etc/hello").read_bytes() == b"hi\n"
    assert read_tar(store, layer.chain_id) == tar  # decompressing the kept blob gives the diff ID's bytes
    assert store.compressed(layer) == (os.path.join(layer.path, "layer.tar.gz"), sha(blob), len(blob))
    assert os.listdir(store.tmp_dir) == []


def test_an_uncompressed_tar_is_linked_not_copied(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"a": b"a" * 5000, "b/c": b"c"})
    src = write(tmp_path / "layer.tar", tar)
    layer = store.add_from_file(None, src, expected_diff_id=sha(tar))
    assert sorted(os.listdir(layer.path)) == ["diff", "layer.tar", "meta.json"]
    assert os.stat(src).st_ino == os.stat(os.path.join(layer.path, "layer.tar")).st_ino
    assert layer.tar_size == len(tar) and layer.size == 5001


def test_other_compressions_are_stored_uncompressed(store: LayerStore, tmp_path: Path) -> None:
    import lzma

    tar = layer_tar({"x": b"xz content"})
    layer = store.add_from_file(None, write(tmp_path / "l.xz", lzma.compress(tar)), blob_digest="sha256:" + "0" * 64)
    assert layer.diff_id == sha(tar)
    assert sorted(os.listdir(layer.path)) == ["diff", "layer.tar", "meta.json"]
    assert read_tar(store, layer.chain_id) == tar


def test_a_diff_id_mismatch_leaves_nothing(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"f": b"content"})
    with pytest.raises(InvalidArgument, match="does not match its diff ID"):
        store.add_from_file(None, write(tmp_path / "blob", gzip.compress(tar)), expected_diff_id=sha(b"other"),
                            blob_digest="sha256:" + "1" * 64)
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.tmp_dir) == [] and os.listdir(store.links_dir) == []


def test_an_unsafe_layer_leaves_nothing(store: LayerStore, tmp_path: Path) -> None:
    with pytest.raises(UnsafeArchive):
        store.add_from_file(None, write(tmp_path / "evil", gzip.compress(layer_tar({"../../evil": b"x"}))))
    assert not Path(store.root, "evil").exists() and not Path(store.tmp_dir, "evil").exists()
    assert os.listdir(store.layers_dir) == [] and os.listdir(store.tmp_dir) == []


def test_compressing_for_a_push_replaces_layer_tar(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"built": b"by a build"})
    layer = store.add_from_file(None, write(tmp_path / "l.tar", tar))
    path, digest, size = store.compressed(layer)
    assert sorted(os.listdir(layer.path)) == ["blob.json", "diff", "layer.tar.gz", "meta.json"]
    with open(path, "rb") as f:
        blob = f.read()
    assert (sha(blob), len(blob)) == (digest, size) and gzip.decompress(blob) == tar
    assert store.compressed(layer) == (path, digest, size)  # kept: a second push sends the same digest
    assert read_tar(store, layer.chain_id) == tar


def test_a_reader_of_layer_tar_survives_its_compression(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"big": os.urandom(300_000)})
    layer = store.add_from_file(None, write(tmp_path / "l.tar", tar))
    with store.open_tar(layer) as src:
        store.compressed(layer)
        assert src.read() == tar


def test_an_old_store_with_both_forms_still_works_and_is_tidied(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"old": b"store"})
    layer = store.add_from_file(None, write(tmp_path / "l.tar", tar))
    blob = gzip.compress(tar, mtime=0)
    (Path(layer.path) / "layer.tar.gz").write_bytes(blob)
    (Path(layer.path) / "blob.json").write_text(json.dumps({"digest": sha(blob), "size": len(blob)}))
    meta = json.loads((Path(layer.path) / "meta.json").read_text())
    del meta["tar_size"]  # as written before tar_size was recorded
    (Path(layer.path) / "meta.json").write_text(json.dumps(meta))
    assert read_tar(store, layer.chain_id) == tar
    assert store.compressed(store.get(layer.chain_id))[1] == sha(blob)
    store.clean_tmp()  # at engine start
    assert sorted(os.listdir(layer.path)) == ["blob.json", "diff", "layer.tar.gz", "meta.json"]
    assert read_tar(store, layer.chain_id) == tar


def test_concurrent_adds_of_one_chain_store_it_once(store: LayerStore, tmp_path: Path) -> None:
    tar = layer_tar({"shared": os.urandom(200_000)})
    blob = gzip.compress(tar)
    parent_tar = layer_tar({"base": b"base"})
    parent = store.add_from_file(None, write(tmp_path / "p.tar", parent_tar)).chain_id
    paths = [write(tmp_path / f"blob{i}", blob) for i in range(4)]
    results: list[str] = []
    errors: list[BaseException] = []

    def add(path: str) -> None:
        try:
            results.append(store.add_from_file(parent, path, expected_diff_id=sha(tar), blob_digest=sha(blob)).path)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert sorted(store.all_chain_ids()) == sorted([parent, chain_id(parent, sha(tar))])
    assert len(os.listdir(store.links_dir)) == 2 and os.listdir(store.tmp_dir) == []
    assert read_tar(store, chain_id(parent, sha(tar))) == tar


def test_held_layers_survive_garbage_collection(store: LayerStore, tmp_path: Path) -> None:
    from engine.images.store import ImageStore

    images = ImageStore(str(tmp_path / "images"), store)
    data = layer_tar({"held": b"1"})
    layer = store.add_from_file(None, write(tmp_path / "l.tar", data), sha(data))
    with store.hold([layer.chain_id]):  # a pull stored it but has not registered its image yet
        assert images.collect_layers(list) == []
        assert store.exists(layer.chain_id)
    assert images.collect_layers(list) == [layer.chain_id]
    assert not store.exists(layer.chain_id)
