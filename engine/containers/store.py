"""Where a container lives on disk, and its record written crash-safely.

    <root>/containers/<id>/
        container.json     the record (engine.containers.model.Container), atomically replaced
        hostname hosts resolv.conf
        ctr.log            written by conmon (CRI k8s-file format)
        exit oom           written by conmon when the container ends
        bundle/            OCI bundle: config.json, conmon's attach socket and ctl fifo
        fs/                upper, work and merged dirs of the rootfs overlay
        exec/<exec id>/    one bundle per exec session
"""

from __future__ import annotations

import json
import logging
import os
import shutil

from engine.containers.model import Container
from engine.util.fs import atomic_write_json

log = logging.getLogger(__name__)


class ContainerPaths:
    def __init__(self, root: str, cid: str) -> None:
        self.dir = os.path.join(root, cid)
        self.record = os.path.join(self.dir, "container.json")
        self.hostname = os.path.join(self.dir, "hostname")
        self.hosts = os.path.join(self.dir, "hosts")
        self.resolv_conf = os.path.join(self.dir, "resolv.conf")
        self.log = os.path.join(self.dir, "ctr.log")
        self.exit = os.path.join(self.dir, "exit")
        self.oom = os.path.join(self.dir, "oom")
        self.bundle = os.path.join(self.dir, "bundle")
        self.fs = os.path.join(self.dir, "fs")
        self.exec_dir = os.path.join(self.dir, "exec")


class ContainerStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "containers")
        os.makedirs(self.root, exist_ok=True)

    def paths(self, cid: str) -> ContainerPaths:
        return ContainerPaths(self.root, cid)

    def save(self, c: Container) -> None:
        p = self.paths(c.id)
        os.makedirs(p.dir, exist_ok=True)
        atomic_write_json(p.record, c.to_record())

    def load_all(self) -> list[Container]:
        out = []
        for cid in os.listdir(self.root):
            p = self.paths(cid)
            try:
                with open(p.record, encoding="utf-8") as f:
                    out.append(Container.from_record(json.load(f)))
            except FileNotFoundError:
                # Created half-way when the engine died: nothing refers to it.
                shutil.rmtree(p.dir, ignore_errors=True)
            except (ValueError, TypeError) as exc:
                log.error("container %s has an unreadable record (%s); leaving it on disk", cid, exc)
        return out

    def remove(self, cid: str) -> None:
        shutil.rmtree(self.paths(cid).dir, ignore_errors=True)
