"""Network routes: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

from engine.api.http import Reply, Request
from engine.api.router import Router, query_bool
from engine.api.services import Services
from engine.containers.etcwriter import write_etc_files
from engine.containers.model import PAUSED, RESTARTING, RUNNING
from engine.errors import InvalidArgument
from engine.network.service import NetworkService
from engine.util.filters import Filters


def register(router: Router, s: Services) -> None:
    nets = s.networks
    sandboxes = s.containers.lifecycle.sandboxes
    containers = s.containers

    async def list_networks(req: Request) -> Reply:
        found = nets.list(Filters.parse(req.arg("filters")))
        return Reply.json([n.to_json(with_containers=False) for n in found])

    async def inspect(req: Request) -> Reply:
        net = nets.get(req.params["id"])
        query_bool(req, "verbose")
        return Reply.json(net.to_json(with_containers=True))

    async def create(req: Request) -> Reply:
        opts = NetworkService.create_options(await req.json(default=None))
        net = await nets.create(opts)
        return Reply.json({"Id": net.id, "Warning": ""}, 201)

    async def remove(req: Request) -> Reply:
        await nets.remove(nets.get(req.params["id"]))
        return Reply.empty()

    async def prune(req: Request) -> Reply:
        in_use = {name for c in containers.registry.all() for name in c.networks}
        removed = await nets.prune(Filters.parse(req.arg("filters")), in_use)
        return Reply.json({"NetworksDeleted": removed or None})

    async def connect(req: Request) -> Reply:
        net = nets.get(req.params["id"])
        body = await req.json(default={})
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidArgument("connect needs a Container")
        config = body.get("EndpointConfig") or {}
        c = containers.get(body["Container"])
        async with containers.registry.lock(c):
            running = c.state.status in (RUNNING, PAUSED, RESTARTING)
            await sandboxes.connect(net, c, config, running)
            containers.registry.save(c)
            if running:  # a first user-defined network brings the embedded DNS: resolv.conf follows
                addresses = [s.get("IPAddress") for s in c.networks.values() if s.get("IPAddress")][:1]
                write_etc_files(containers.registry.store.paths(c.id), c, addresses, c.id in sandboxes.dns.sockets)
        s.events.publish("network", "connect", net.id, {"container": c.id, "name": net.name, "type": net.driver})
        return Reply(200, b"", None)

    async def disconnect(req: Request) -> Reply:
        net = nets.get(req.params["id"])
        body = await req.json(default={})
        if not isinstance(body, dict) or not isinstance(body.get("Container"), str):
            raise InvalidArgument("disconnect needs a Container")
        c = containers.get(body["Container"])
        async with containers.registry.lock(c):
            running = c.state.status in (RUNNING, PAUSED, RESTARTING)
            await sandboxes.disconnect(net, c, running)
            containers.registry.save(c)
        s.events.publish("network", "disconnect", net.id, {"container": c.id, "name": net.name, "type": net.driver})
        return Reply(200, b"", None)

    router.add("GET", "/networks", list_networks)
    router.add("POST", "/networks/create", create)
    router.add("POST", "/networks/prune", prune)
    router.add("GET", "/networks/{id}", inspect)
    router.add("DELETE", "/networks/{id}", remove)
    router.add("POST", "/networks/{id}/connect", connect)
    router.add("POST", "/networks/{id}/disconnect", disconnect)
