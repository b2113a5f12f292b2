"""Images pages that change things: pull, build and import (jobs: the person is taken to the job's live
page), and tag, push (a job) and remove on one image. Field errors come back on the form; the
engine's refusals are shown in its words (an image in use names its container).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from console.accounts.access import requires
from console.accounts.policy import PolicyViolation
from console.endpoints.client import EngineError
from console.images import operations
from console.images.forms import (
    BuildForm,
    LoadForm,
    PullForm,
    PushForm,
    RemoveForm,
    TagForm,
)
from console.images.views import detail_context, endpoint_of

STARTER_DOCKERFILE = "FROM busybox\n\n# RUN, COPY, ENV, CMD … as in any Dockerfile\nCMD [\"sh\", \"-c\", \"echo hello from Berth\"]\n"


@requires("image.pull")
def pull(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    form = PullForm(request.POST or None, initial={"image": request.GET.get("image", "")})
    if request.method == "POST" and form.is_valid():
        job = operations.start_pull(request, endpoint, form.cleaned_data["image"])
        return redirect(job.get_absolute_url())
    return render(request, "images/pull.html", {"endpoint": endpoint, "form": form},
                  status=400 if form.is_bound else 200)


@requires("image.build")
def build(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    if request.method == "POST":
        form = BuildForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = operations.start_build(request, endpoint, form.cleaned_data)
            except PolicyViolation as exc:  # the endpoint's security settings (console/accounts/policy.py)
                form.add_error("text", exc.message)
            else:
                return redirect(job.get_absolute_url())
    else:
        form = BuildForm(initial={"text": STARTER_DOCKERFILE})
    return render(request, "images/build.html", {"endpoint": endpoint, "form": form},
                  status=400 if form.is_bound else 200)


@requires("image.load")
def load(request: HttpRequest, eid: int) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    form = LoadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = operations.start_load(request, endpoint, form.cleaned_data["archive"])
        return redirect(job.get_absolute_url())
    return render(request, "images/load.html", {"endpoint": endpoint, "form": form},
                  status=400 if form.is_bound else 200)


def _detail_with(request: HttpRequest, eid: int, image_id: str, status: int, **forms: object) -> HttpResponse:
    """The image page again, with a form that has errors."""
    endpoint = endpoint_of(request, eid)
    found = operations.detail(endpoint, image_id)
    if found is None:
        raise Http404("no such image on this endpoint")
    return render(request, "images/detail.html", detail_context(endpoint, found, **forms), status=status)


@requires("image.tag", resource="image_id")
@require_POST
def tag(request: HttpRequest, eid: int, image_id: str) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            operations.tag_image(request, endpoint, image_id, form.cleaned_data["target"])
        except operations.ImageRefused as exc:
            form.add_error("target", exc.message)
        except EngineError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Tagged as {form.cleaned_data['target']}.")
            return redirect("images:detail", eid=eid, image_id=image_id)
    return _detail_with(request, eid, image_id, 400, tag_form=form)


@requires("image.push", resource="image_id")
@require_POST
def push(request: HttpRequest, eid: int, image_id: str) -> HttpResponse:
    endpoint = endpoint_of(request, eid)
    found = operations.detail(endpoint, image_id)
    if found is None:
        raise Http404("no such image on this endpoint")
    form = PushForm(request.POST, tags=found.row.tags)
    if not form.is_valid():
        return _detail_with(request, eid, image_id, 400, push_form=form)
    job = operations.start_push(request, endpoint, form.cleaned_data["tag"])
    return redirect(job.get_absolute_url())


@requires("image.remove", resource="image_id")
@require_POST
def remove(request: HttpRequest, eid: int, image_id: str) -> HttpResponse:
    """Remove the image (ref = its ID) or untag one of its tags (ref = the tag); back to the list or the image."""
    endpoint = endpoint_of(request, eid)
    form = RemoveForm(request.POST)
    form.is_valid()
    ref = form.cleaned_data.get("ref") or image_id
    force = bool(form.cleaned_data.get("force"))
    list_url = reverse("images:list", kwargs={"eid": eid})
    image_url = reverse("images:detail", kwargs={"eid": eid, "image_id": image_id})
    try:
        gone = operations.remove_image(request, endpoint, ref, force)
    except (operations.ImageRefused, EngineError) as exc:
        messages.error(request, f"{ref}: {exc.message}")
        return redirect(list_url if request.POST.get("back") == "list" else image_url)
    deleted = [g["Deleted"] for g in gone if g.get("Deleted")]
    messages.success(request, f"Removed {ref}." if deleted else f"Untagged {ref}.")
    return redirect(list_url if deleted or request.POST.get("back") == "list" else image_url)
