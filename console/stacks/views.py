"""Stacks pages that show, under /endpoints/<eid>/stacks/: the list (console stacks and "limited" projects
found on the engine), one stack with its services and containers (the table is a fragment the page
refreshes when the engine's events say a container of the stack changed), and the adopt form.

Changes (create, edit/redeploy, templates, stop, start, remove) are in console/stacks/edit_views.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from console.accounts import policy
from console.accounts.access import requires
from console.accounts.ownership import card_context
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.jobs.models import Job
from console.stacks import discovery, permissions, service
from console.stacks.forms import StackForm, rows_from
from console.stacks.models import Stack


def endpoint_of(request: HttpRequest, eid: int) -> Endpoint:
    endpoint = get_object_or_404(Endpoint, pk=eid)
    if request.session.get("endpoint_id") != endpoint.pk:
        request.session["endpoint_id"] = endpoint.pk
    return endpoint


def engine_projects(endpoint: Endpoint, name: str | None = None) -> tuple[dict[str, discovery.EngineProject], str]:
    try:
        return discovery.projects(endpoint, name), ""
    except EngineError as exc:
        return {}, exc.message


@requires("stack.view")
def stack_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    found, error = engine_projects(endpoint)
    stacks = list(Stack.objects.filter(endpoint=endpoint))
    stacks += [s for s in Stack.objects.exclude(endpoint=endpoint).select_related("endpoint")
               if endpoint.pk in (s.placement or {}).values()]  # spread here from another endpoint
    managed = {s.name for s in stacks}  # before filtering: a stack hidden from the user is not "limited" either
    stacks = permissions.visible_stacks(request.user, stacks)
    rows = [{"stack": s, "project": found.get(s.name), "editable": permissions.may(request.user, s, "stack.update")}
            for s in stacks]
    limited = [p for name, p in sorted(found.items()) if name not in managed]
    limited = limited if permissions.sees_limited(request.user, endpoint) else []
    active = Job.objects.filter(endpoint=endpoint, kind__startswith="stack.", state__in=Job.ACTIVE)
    active = (active if permissions.sees_limited(request.user, endpoint) else active.filter(user=request.user))[:5]
    return render(request, "stacks/list.html", {"endpoint": endpoint, "rows": rows, "limited": limited, "error": error,
                                                "active_jobs": active,
                                                "can_deploy": policy.can(request.user, endpoint, "stack.deploy")})


def detail_context(endpoint: Endpoint, stack: Stack) -> dict[str, Any]:
    """The stack page's data: its services in start order, each with the endpoint it runs on and its
    containers on every endpoint the stack uses (an endpoint that cannot be asked is named in `error`)."""
    endpoints = stack.endpoints()
    project, errors = discovery.spread_project(endpoints, stack.name)
    declared, problems = [], []
    try:
        declared = [s.name for s in service.load(service.source_of(stack)).project.order()]
    except service.ComposeError as exc:
        problems = service.problems_of(exc)
    containers = project.containers if project else []
    names = {e.pk: e.name for e in endpoints}
    placed = {s: names.get(pk, "") for s, pk in (stack.placement or {}).items()}
    services = [{"name": n, "containers": [c for c in containers if c.service == n],
                 "endpoint": placed.get(n) or next((c.endpoint_name for c in containers if c.service == n), endpoint.name)}
                for n in dict.fromkeys(declared + sorted({c.service for c in containers}))]
    return {"endpoint": endpoint, "stack": stack, "project": project, "services": services, "error": "; ".join(errors),
            "problems": problems, "spread": len(endpoints) > 1, "stack_endpoints": [e.name for e in endpoints]}


@requires("stack.view")
def stack_detail(request: HttpRequest, eid: int, sid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    stack = permissions.stack_for(request, eid, sid, "stack.view")
    context = detail_context(endpoint, stack)
    context["active_jobs"] = Job.objects.filter(endpoint=endpoint, kind__startswith="stack.", state__in=Job.ACTIVE,
                                                params__stack=stack.pk)[:3]
    context["can"] = permissions.actions_for(request.user, stack)
    context.update(card_context(request, stack.endpoint, permissions.KIND, stack.name, stack.name))
    return render(request, "stacks/detail.html", context)


@requires("stack.view")
def stack_services(request: HttpRequest, eid: int, sid: int) -> HttpResponse:
    """The services table alone (the page swaps it in when a container of the stack changes)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    stack = permissions.stack_for(request, eid, sid, "stack.view")
    return render(request, "stacks/_services.html", {**detail_context(endpoint, stack), "oob": True})


@requires("stack.adopt")
def stack_adopt(request: HttpRequest, eid: int, name: str) -> HttpResponse:
    """Take a project made elsewhere under the console's management: its compose file from the host if readable,
    else pasted. Nothing on the engine changes; a redeploy afterwards recreates its containers (new labels)."""
    endpoint = endpoint_of(request, eid)
    found, error = engine_projects(endpoint, name)
    project = found.get(name)
    if Stack.objects.filter(endpoint=endpoint, name=name).exists():
        messages.info(request, f"{name} is already managed here.")
        return redirect("stacks:list", eid=eid)
    if project is None:
        messages.error(request, error or f"No compose project named {name} runs on {endpoint.name}.")
        return redirect("stacks:list", eid=eid)
    readable = discovery.readable_compose(project)
    working_dir = project.working_dir if readable else ""
    kwargs = {"endpoint": endpoint, "working_dir": working_dir, "config_files": tuple(project.config_files)}
    if request.method == "POST":
        form = StackForm(request.POST, request.FILES, rows=rows_from(request.POST), initial={"name": name}, **kwargs)
        form.fields["name"].disabled = True  # an adopted stack keeps its project's name
        if form.is_valid():
            stack = _adopt(request, endpoint, form, working_dir, project)
            messages.success(request, f"{name} is now managed by the console. Redeploy it to apply its file.")
            return redirect(stack.get_absolute_url())
        record(request, "stack.adopt", name, Activity.FAILURE, "the form has errors", endpoint,
               problems=[p["text"] for p in form.problems])
        status = 400
    else:
        form = StackForm(initial={"name": name, "compose": readable[1] if readable else ""}, **kwargs)
        form.fields["name"].disabled = True
        status = 200
    return render(request, "stacks/adopt.html", {"endpoint": endpoint, "form": form, "project": project,
                                                 "readable": readable, "name": name}, status=status)


@transaction.atomic
def _adopt(request: HttpRequest, endpoint: Endpoint, form: StackForm, working_dir: str,
           project: discovery.EngineProject) -> Stack:
    c = form.cleaned_data
    stack = Stack.objects.create(endpoint=endpoint, name=c["name"], compose=c["compose"], variables=form.variables,
                                 env_file=c.get("env_file", ""), origin=Stack.ADOPTED, working_dir=working_dir,
                                 config_files=list(project.config_files), created_by=request.user,
                                 created_by_name=request.user.get_username())
    permissions.own(request.user, stack)  # the adopter (an administrator: limited projects are theirs to see)
    record(request, "stack.adopt", stack.name, Activity.SUCCESS, "", endpoint, stack=stack.pk,
           working_dir=working_dir, from_host=bool(working_dir))
    return stack
