"""Who may see and act on which stack (console/accounts/policy.py's rules applied to stacks).

A stack's ownership row (ResourceControl, kind "stack") is keyed by its compose project name on its own
endpoint (`Stack.endpoint`, also for the services it placed elsewhere). Rows are looked up by exact name:
project names are free text, so no prefix matching. A stack without a row (made before ownership
existed) is administrators only, like every resource the console did not record an owner for. A
"limited" project (made outside the console) is for administrators only until one adopts it.

  - `may(user, stack, action)`: the action's role on the stack's endpoint and the stack visible to the user.
  - `stack_for(request, eid, sid, action)`: the stack, 404 when unknown, 403 (a change audited) when not allowed.
  - `visible_stacks(user, stacks)`: the ones the user may see (policy.visible per home endpoint).
  - `own(user, stack)` on create/adopt; `forget(stack)` when it is removed.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from console.accounts import policy
from console.accounts.access import record_denied
from console.accounts.models import OWNER_ADMINS, ResourceControl
from console.accounts.ownership import record_owner
from console.stacks.models import Stack

KIND = "stack"


def control_of(stack: Stack) -> ResourceControl:
    """The stack's ownership row; an unsaved "administrators only" one when it has none."""
    found = ResourceControl.objects.filter(endpoint_id=stack.endpoint_id, kind=KIND, resource_id=stack.name).first()
    return found or ResourceControl(endpoint_id=stack.endpoint_id, kind=KIND, resource_id=stack.name,
                                    ownership=OWNER_ADMINS)


def may(user: Any, stack: Stack, action: str) -> bool:
    """Whether `user` may perform `action` (stack.view, stack.stop, …) on `stack` (decided on its home endpoint)."""
    return policy.can(user, stack.endpoint, action, control_of(stack))


def stack_for(request: HttpRequest, eid: int, sid: int, action: str) -> Stack:
    """The stack `sid` of endpoint `eid` when the user may do `action` on it; Http404 when there is none,
    PermissionDenied when it is not theirs to see or act on (a refused change is audited)."""
    stack = get_object_or_404(Stack.objects.select_related("endpoint"), pk=sid, endpoint_id=eid)
    if not may(request.user, stack, action):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            record_denied(request, f"not allowed: {action} on stack {stack.name}", stack.endpoint)
        raise PermissionDenied(f"not allowed: {action}")
    return stack


def visible_stacks(user: Any, stacks: list[Stack]) -> list[Stack]:
    """The stacks `user` may see, in the given order (administrators of a stack's endpoint see all of its)."""
    by_home: dict[int, list[Stack]] = defaultdict(list)
    for stack in stacks:
        by_home[stack.endpoint_id].append(stack)
    allowed: set[int] = set()
    for group in by_home.values():
        seen = policy.visible(user, group[0].endpoint, KIND, group, key=lambda s: s.name)
        allowed.update(s.pk for s in seen)
    return [s for s in stacks if s.pk in allowed]


def sees_limited(user: Any, endpoint: Any) -> bool:
    """Limited projects (not managed by the console) are shown to the endpoint's administrators only."""
    return policy.role_on(user, endpoint) == policy.ADMIN


def own(user: Any, stack: Stack) -> ResourceControl:
    """Record who owns a stack just created or adopted: a non-administrator themself, else administrators."""
    return record_owner(user, stack.endpoint, KIND, stack.name, stack.name)


def forget(stack: Stack) -> None:
    """The stack is gone: drop its row (a later project of the same name must not inherit its owner)."""
    ResourceControl.objects.filter(endpoint_id=stack.endpoint_id, kind=KIND, resource_id=stack.name).delete()


def actions_for(user: Any, stack: Stack) -> dict[str, bool]:
    """What the stack's page may offer `user`: {"update": …, "start": …, "stop": …, "remove": …, "logs": …}."""
    return {verb: may(user, stack, f"stack.{verb}") for verb in ("update", "start", "stop", "remove", "logs")}
