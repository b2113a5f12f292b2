"""Routing: the `/v1.NN` prefix, path patterns, and errors as Docker shapes them.

`STATUS_FOR` is the one table that maps the engine's error family to HTTP
status codes. Every response gets Docker's common headers (Api-Version, Ostype,
Docker-Experimental, Server).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from engine.api.http import BadRequest, Reply, ReplyLike, Request
from engine.errors import EngineError

log = logging.getLogger(__name__)

API_VERSION = (1, 41)
MIN_API_VERSION = (1, 24)
_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")

Handler = Callable[[Request], Awaitable[ReplyLike]]


def version_string(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    template: str  # the path as registered, e.g. /containers/{id}/json: what metrics and traces name


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        """`path` uses `{name}` for one segment and `{name:.+}` for image names with slashes."""
        regex = "^"
        pos = 0
        for m in re.finditer(r"\{(\w+)(?::([^}]+))?\}", path):
            regex += re.escape(path[pos:m.start()])
            regex += f"(?P<{m.group(1)}>{m.group(2) or '[^/]+'})"
            pos = m.end()
        regex += re.escape(path[pos:]) + "$"
        self.routes.append(Route(method, re.compile(regex), handler, path))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        """The handler, path parameters and route template for a request; None when no route matches."""
        allowed = ""
        for route in self.routes:
            m = route.pattern.match(path)
            if m is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                return route.handler, m.groupdict(), route.template
            allowed = route.template
        if allowed:
            return _method_not_allowed, {}, allowed
        return None

    async def dispatch(self, req: Request) -> ReplyLike:
        m = _VERSION_PREFIX.match(req.raw_path)
        if m:
            version = (int(m.group(1)), int(m.group(2)))
            req.path = m.group(3)
            if version < MIN_API_VERSION:
                return Reply.error(
                    400,
                    f"client version {version_string(version)} is too old. Minimum supported API version is "
                    f"{version_string(MIN_API_VERSION)}, please upgrade your client to a newer version",
                )
            if version > API_VERSION:
                return Reply.error(400, f"client version {version_string(version)} is too new. Maximum supported API version is {version_string(API_VERSION)}")
            req.api_version = version
        else:
            req.api_version = API_VERSION
        found = self.resolve(req.method, req.path.rstrip("/") or "/")
        if found is None:
            return Reply.error(404, "page not found")
        handler, req.params, req.route = found
        try:
            return await handler(req)
        except EngineError as exc:
            if exc.status == 304:
                return Reply.empty(304)
            return Reply.error(exc.status, exc.message)
        except BadRequest as exc:
            return Reply.error(400, str(exc))
        except Exception as exc:  # a fault becomes a 500 with the reason, never a traceback
            log.exception("%s %s failed", req.method, req.raw_path)
            return Reply.error(500, f"internal error: {type(exc).__name__}: {exc}")


async def _method_not_allowed(req: Request) -> Reply:
    return Reply.error(405, f"method {req.method} not allowed for {req.path}")


def common_headers(server: str) -> Callable[[], dict[str, str]]:
    def headers() -> dict[str, str]:
        return {
            "Api-Version": version_string(API_VERSION),
            "Docker-Experimental": "false",
            "Ostype": "linux",
            "Builder-Version": "1",
            "Server": server,
        }

    return headers


def query_bool(req: Request, name: str, default: bool = False) -> bool:
    value = req.arg(name)
    if value is None or value == "":
        return default
    low = value.lower()
    if low in ("1", "true", "yes"):
        return True
    if low in ("0", "false", "no"):
        return False
    from engine.errors import InvalidArgument

    raise InvalidArgument(f"invalid boolean value {value!r} for query parameter {name!r}")


def query_int(req: Request, name: str, default: int | None = None) -> int | None:
    value = req.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        from engine.errors import InvalidArgument

        raise InvalidArgument(f"invalid integer value {value!r} for query parameter {name!r}") from None
