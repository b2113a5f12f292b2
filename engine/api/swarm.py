"""Swarm-mode and managed-plugin routes: Berth has neither, and answers as Docker does without them.

A Docker engine that is not a swarm manager answers every swarm-family route
(`/swarm`, `/services`, `/tasks`, `/nodes`, `/secrets`, `/configs`) with 503 and
one message; `POST /swarm/leave` says the node is not part of a swarm (which
clients' `leave(force=True)` treats as success). Berth cannot become a manager,
so `/swarm/init` and `/swarm/join` are 503 too, with a message that says so.

Plugins: the list is empty and every named plugin is not found, as on a Docker
engine with no plugin installed; installing one is not offered (501).
"""

from __future__ import annotations

from engine.api.http import Reply, Request
from engine.api.router import Router
from engine.api.services import Services
from engine.errors import NotFound, NotImplementedYet, Unavailable

NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
                 "to connect this node to swarm and try again.")
NOT_IN_SWARM = "This node is not part of a swarm"
NO_SWARM_MODE = "Berth does not support swarm mode: it runs containers on this host only (use compose for multi-container apps)"

SWARM_RESOURCES = ("services", "tasks", "nodes", "secrets", "configs")


def register(router: Router, s: Services) -> None:  # same signature as every route module
    async def not_a_manager(req: Request) -> Reply:
        raise Unavailable(NOT_A_MANAGER)

    async def cannot_join(req: Request) -> Reply:
        raise Unavailable(NO_SWARM_MODE)

    async def leave(req: Request) -> Reply:
        raise Unavailable(NOT_IN_SWARM)

    async def list_plugins(req: Request) -> Reply:
        return Reply.json([])

    async def plugin_not_found(req: Request) -> Reply:
        raise NotFound(f'plugin "{req.params["name"]}" not found')

    async def no_plugin_install(req: Request) -> Reply:
        raise NotImplementedYet("Berth does not support managed plugins")

    for method in ("GET", "POST", "DELETE"):
        router.add(method, "/swarm", not_a_manager)
        for resource in SWARM_RESOURCES:
            router.add(method, f"/{resource}", not_a_manager)
            router.add(method, f"/{resource}/{{rest:.+}}", not_a_manager)
    router.add("POST", "/swarm/init", cannot_join)
    router.add("POST", "/swarm/join", cannot_join)
    router.add("POST", "/swarm/leave", leave)
    for path in ("/swarm/update", "/swarm/unlock"):
        router.add("POST", path, not_a_manager)
    router.add("GET", "/swarm/unlockkey", not_a_manager)

    router.add("GET", "/plugins", list_plugins)
    router.add("GET", "/plugins/privileges", no_plugin_install)
    router.add("POST", "/plugins/pull", no_plugin_install)
    router.add("POST", "/plugins/create", no_plugin_install)
    router.add("GET", "/plugins/{name:.+}/json", plugin_not_found)
    for action in ("enable", "disable", "upgrade", "push", "set"):
        router.add("POST", f"/plugins/{{name:.+}}/{action}", plugin_not_found)
    router.add("DELETE", "/plugins/{name:.+}", plugin_not_found)
