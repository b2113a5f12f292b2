"""The engine's in-memory index of containers: by ID, by name, by ID prefix.

Lookups follow Docker: an exact ID, then an exact name (with or without the
leading slash), then a unique ID prefix. Each container also has a lock for
operations that must not interleave (start, remove, rename).
"""

from __future__ import annotations

import asyncio

from engine.containers.model import Container
from engine.containers.store import ContainerStore
from engine.errors import Conflict, InvalidArgument, NotFound


class Registry:
    def __init__(self, store: ContainerStore) -> None:
        self.store = store
        self.by_id: dict[str, Container] = {}
        self.by_name: dict[str, str] = {}
        self.locks: dict[str, asyncio.Lock] = {}

    def add(self, c: Container) -> None:
        self.by_id[c.id] = c
        self.by_name[c.name] = c.id
        self.locks.setdefault(c.id, asyncio.Lock())

    def reserve_name(self, name: str, cid: str) -> None:
        holder = self.by_name.get(name)
        if holder is not None and holder != cid:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container "{holder}". '
                "You have to remove (or rename) that container to be able to reuse that name."
            )
        self.by_name[name] = cid

    def release_name(self, name: str, cid: str) -> None:
        if self.by_name.get(name) == cid:
            del self.by_name[name]

    def discard(self, c: Container) -> None:
        self.by_id.pop(c.id, None)
        self.release_name(c.name, c.id)
        self.locks.pop(c.id, None)

    def find(self, ref: str) -> Container | None:
        if not ref:
            return None
        c = self.by_id.get(ref)
        if c is not None:
            return c
        cid = self.by_name.get(ref.lstrip("/"))
        if cid is not None and cid in self.by_id:
            return self.by_id[cid]
        matches = [c for i, c in self.by_id.items() if i.startswith(ref)]
        if len(matches) > 1:
            raise InvalidArgument(f"Multiple IDs found with provided prefix: {ref}")
        return matches[0] if matches else None

    def get(self, ref: str) -> Container:
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No such container: {ref}")
        return c

    def lock(self, c: Container) -> asyncio.Lock:
        return self.locks.setdefault(c.id, asyncio.Lock())

    def save(self, c: Container) -> None:
        if c.id in self.by_id:
            self.store.save(c)

    def all(self) -> list[Container]:
        return list(self.by_id.values())
