"""Stacks pages that change things: create (editor or upload) and deploy, deploy an app template, edit and
redeploy (only what changed is recreated), stop, start, remove. Each saves and audits, then hands the
engine work to a job (console/stacks/jobs.py) and sends the browser to the job's live page.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from console.accounts.access import requires
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.models import Endpoint
from console.stacks import catalog, jobs, permissions
from console.stacks.forms import StackForm, rows_from
from console.stacks.models import Stack
from console.stacks.views import endpoint_of, engine_projects


def _render_form(request: HttpRequest, endpoint: Endpoint, form: StackForm, page: str, status: int = 200,
                 **extra: object) -> HttpResponse:
    return render(request, page, {"endpoint": endpoint, "form": form, **extra}, status=status)


def _refused(request: HttpRequest, action: str, target: str, endpoint: Endpoint, form: StackForm) -> None:
    record(request, action, target, Activity.FAILURE, "the form has errors", endpoint,
           errors={k: [str(e) for e in v] for k, v in form.errors.items()}, problems=[p["text"] for p in form.problems])


@transaction.atomic
def create_and_deploy(request: HttpRequest, endpoint: Endpoint, form: StackForm, action: str, **details: object):  # type: ignore[no-untyped-def]
    c = form.cleaned_data
    stack = Stack.objects.create(endpoint=endpoint, name=c["name"], compose=c["compose"], variables=form.variables,
                                 env_file=c.get("env_file", ""), origin=Stack.CONSOLE, created_by=request.user,
                                 created_by_name=request.user.get_username())
    permissions.own(request.user, stack)  # a standard user's stack is theirs (console/stacks/permissions.py)
    record(request, action, stack.name, Activity.SUCCESS, "", endpoint, stack=stack.pk,
           services=[s.name for s in c["loaded"].project.services], **details)
    return jobs.start(jobs.DEPLOY, stack, request)


@requires("stack.deploy")
def stack_create(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    if request.method != "POST":
        return _render_form(request, endpoint, StackForm(endpoint=endpoint), "stacks/create.html")
    found, _ = engine_projects(endpoint)
    form = StackForm(request.POST, request.FILES, endpoint=endpoint, rows=rows_from(request.POST),
                     engine_names=set(found))
    if not form.is_valid():
        _refused(request, "stack.create", request.POST.get("name", ""), endpoint, form)
        return _render_form(request, endpoint, form, "stacks/create.html", status=400)
    job = create_and_deploy(request, endpoint, form, "stack.create",
                             source="upload" if request.FILES.get("upload") else "editor")
    return redirect(job.get_absolute_url())


@requires("stack.deploy")
def template_list(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    missing, error = catalog.availability(endpoint)
    entries = [{"template": t, "missing": sorted(missing.get(t.index, ()))} for t in catalog.templates()]
    return render(request, "stacks/templates.html", {"endpoint": endpoint, "entries": entries, "error": error})


@requires("stack.deploy")
def template_deploy(request: HttpRequest, eid: int, index: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    template = catalog.get(index)
    if template is None:
        raise Http404("no such app template")
    missing, error = catalog.availability(endpoint)
    extra = {"template": template, "missing": sorted(missing.get(index, ())), "error": error}
    if request.method != "POST":
        rows = [(v.name, v.default) for v in template.variables]
        form = StackForm(endpoint=endpoint, rows=rows, initial={"name": template.slug, "compose": template.compose})
        return _render_form(request, endpoint, form, "stacks/template_form.html", **extra)
    found, _ = engine_projects(endpoint)
    data = request.POST.copy()
    data["compose"] = template.compose  # the template's text, not whatever was posted
    form = StackForm(data, endpoint=endpoint, rows=rows_from(request.POST), engine_names=set(found))
    if not form.is_valid():
        _refused(request, "stack.create", request.POST.get("name", ""), endpoint, form)
        return _render_form(request, endpoint, form, "stacks/template_form.html", status=400, **extra)
    job = create_and_deploy(request, endpoint, form, "stack.create", source="template", template=template.title)
    return redirect(job.get_absolute_url())


@requires("stack.update")
def stack_edit(request: HttpRequest, eid: int, sid: int) -> HttpResponse:
    """Edit the file and variables, then redeploy: only services whose configuration changed are recreated."""
    endpoint = endpoint_of(request, eid)
    stack = permissions.stack_for(request, eid, sid, "stack.update")
    if request.method != "POST":
        form = StackForm(endpoint=endpoint, stack=stack, initial={"name": stack.name, "compose": stack.compose,
                                                                  "env_file": stack.env_file})
        return _render_form(request, endpoint, form, "stacks/edit.html", stack=stack)
    form = StackForm(request.POST, request.FILES, endpoint=endpoint, stack=stack, rows=rows_from(request.POST),
                     initial={"name": stack.name}, working_dir=stack.working_dir,
                     config_files=tuple(stack.config_files or ()))
    if not form.is_valid():
        _refused(request, "stack.update", stack.name, endpoint, form)
        return _render_form(request, endpoint, form, "stacks/edit.html", status=400, stack=stack)
    job = save_and_redeploy(request, stack, form.cleaned_data["compose"], form.variables,
                            form.cleaned_data.get("env_file", ""))
    return redirect(job.get_absolute_url())


@transaction.atomic
def save_and_redeploy(request: HttpRequest, stack: Stack, compose: str, variables: dict[str, str], env_file: str):  # type: ignore[no-untyped-def]
    """Save the new text and variables and queue the redeploy (the API's update does the same)."""
    changed = compose != stack.compose or variables != (stack.variables or {}) or env_file != stack.env_file
    stack.compose, stack.variables, stack.env_file = compose, variables, env_file
    stack.save(update_fields=["compose", "variables", "env_file", "updated_at"])
    record(request, "stack.update", stack.name, Activity.SUCCESS, "", stack.endpoint, stack=stack.pk, changed=changed)
    return jobs.start(jobs.DEPLOY, stack, request)


def queue_action(request: HttpRequest, stack: Stack, action: str, **params: object):  # type: ignore[no-untyped-def]
    """Audit and queue stop / start / remove of `stack`; the job."""
    kind = {"stop": jobs.STOP, "start": jobs.START, "remove": jobs.REMOVE}[action]
    record(request, f"stack.{action}", stack.name, Activity.SUCCESS, "queued", stack.endpoint, stack=stack.pk, **params)
    return jobs.start(kind, stack, request, **params)


@requires("stack.{action}")
@require_POST
def stack_action(request: HttpRequest, eid: int, sid: int, action: str) -> HttpResponse:
    if action not in ("stop", "start", "remove"):
        raise Http404("no such action")
    stack = permissions.stack_for(request, eid, sid, f"stack.{action}")
    params = {"volumes": request.POST.get("volumes") == "on"} if action == "remove" else {}
    with transaction.atomic():
        job = queue_action(request, stack, action, **params)
    if action == "remove":
        messages.info(request, f"Removing {stack.name}" + (" and its named volumes" if params["volumes"] else
                                                           "; its named volumes are kept") + ".")
    return redirect(job.get_absolute_url())
