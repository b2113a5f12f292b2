"""Volume routes: list, create, inspect, remove, prune."""

from __future__ import annotations

from engine.api.http import Reply, Request
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.errors import InvalidArgument
from engine.util.filters import Filters


def register(router: Router, s: Services) -> None:
    volumes = s.volumes

    async def list_volumes(req: Request) -> Reply:
        found = volumes.list(Filters.parse(req.arg("filters")))
        return Reply.json({"Volumes": [v.to_json() for v in found], "Warnings": None})

    async def create(req: Request) -> Reply:
        body = await req.json(default={}) or {}
        if not isinstance(body, dict):
            raise InvalidArgument("invalid volume config: expected a JSON object")
        for key in ("Labels", "DriverOpts"):
            value = body.get(key)
            if value is not None and (not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values())):
                raise InvalidArgument(f"json: cannot unmarshal into Go struct field VolumeCreateBody.{key} of type map[string]string")
        for key in ("Name", "Driver"):
            if body.get(key) is not None and not isinstance(body.get(key), str):
                raise InvalidArgument(f"json: cannot unmarshal into Go struct field VolumeCreateBody.{key} of type string")
        vol = volumes.create(body.get("Name") or "", body.get("Driver") or "local", body.get("Labels") or {},
                             body.get("DriverOpts") or {})
        return Reply.json(vol.to_json(), 201)

    async def inspect(req: Request) -> Reply:
        return Reply.json(volumes.get(req.params["name"]).to_json())

    async def remove(req: Request) -> Reply:
        volumes.remove(req.params["name"], force=query_bool(req, "force"))
        return Reply.empty()

    async def prune(req: Request) -> Reply:
        removed, reclaimed = volumes.prune(Filters.parse(req.arg("filters")))
        return Reply.json({"VolumesDeleted": removed or None, "SpaceReclaimed": reclaimed})

    router.add("GET", "/volumes", list_volumes)
    router.add("POST", "/volumes/create", create)
    router.add("POST", "/volumes/prune", prune)
    router.add("GET", "/volumes/{name}", inspect)
    router.add("DELETE", "/volumes/{name}", remove)
