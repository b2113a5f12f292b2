"""Template context: what the signed-in user may do here, so pages show only the buttons that work.

`may.container_remove` is `policy.can(user, <the page's endpoint>, "container.remove", <the page's
resource>)`; `berth_role` is the user's role on the page's endpoint; `is_berth_admin` whether they
are a global administrator. The page's endpoint and resource are those the `requires` decorator
checked (request.berth_endpoint / berth_resource), else the sidebar's current endpoint.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console.accounts import policy


class Permissions:
    """Lazy: each `may.<kind>_<verb>` asks the policy once."""

    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.cache: dict[str, bool] = {}

    def endpoint(self) -> Any:
        found = getattr(self.request, "berth_endpoint", None)
        if found is None:
            from console.endpoints.context import endpoints

            found = endpoints(self.request).get("current_endpoint")
        return found

    def __getattr__(self, name: str) -> bool:
        if name.startswith("_") or "_" not in name:
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> bool:
        if name not in self.cache:
            action = name.replace("_", ".", 1)
            resource = getattr(self.request, "berth_resource", None)
            ident = resource[1] if resource and resource[0] == action.split(".", 1)[0] else None
            self.cache[name] = policy.can(self.request.user, self.endpoint(), action, ident)
        return self.cache[name]


def access(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"may": Permissions(request), "is_berth_admin": policy.is_global_admin(user)}
