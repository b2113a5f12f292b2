""""Add a Berth engine": an endpoint reached with mutual TLS, certificates from the console's own CA.

Step one (`berth_engine_add`) asks for a name, the engine's address and port and
an environment, issues the console's client certificate from the console's CA and
saves the endpoint with it (tcp://ADDR:PORT; the CA certificate verifies the
engine). Step two (`berth_engine_setup`) shows the commands that make the engine's
server certificate (`manage.py issue_engine_cert`, on the console's host) and start
the engine with `--tlsverify`, and a button that tests the connection
(a POST to the same page) until the engine answers. The private keys are never shown.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from console.accounts.access import admin_required
from console.audit.log import record
from console.audit.models import Activity
from console.endpoints.engine_setup import DEFAULT_PORT, engine_command, issue_command, new_remote_endpoint
from console.endpoints.environment_forms import BerthEngineForm
from console.endpoints.health import probe
from console.endpoints.models import Endpoint
from console.endpoints.pki import console_ca

ENGINE_TLS_DIR = "/etc/berth/tls"  # where the setup page suggests putting the engine's files


@admin_required
def berth_engine_add(request: HttpRequest) -> HttpResponse:
    """GET shows step one; POST issues the client certificate, saves the endpoint and goes to step two."""
    initial = {"environment": request.GET.get("environment")} if request.GET.get("environment") else None
    form = BerthEngineForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            endpoint = new_remote_endpoint(console_ca(), data["name"], data["host"], data["port"], data["environment"])
            endpoint.full_clean()
            endpoint.save()
            record(request, "endpoint.create", endpoint.name, Activity.SUCCESS, "", endpoint, url=endpoint.url,
                   tls=True, certificate="issued by the console's CA")
            messages.success(request, f"Endpoint {endpoint.name} added. Now set up the engine.")
            return redirect("endpoint-berth-setup", eid=endpoint.pk)
        errors = {name: " ".join(texts) for name, texts in form.errors.items()}
        record(request, "endpoint.create", request.POST.get("name") or "", Activity.FAILURE,
               "invalid input: " + ", ".join(sorted(errors)), None, errors=errors)
    return render(request, "environments/berth_add.html", {"form": form},
                  status=400 if form.is_bound and form.errors else 200)


@admin_required
def berth_engine_setup(request: HttpRequest, eid: int) -> HttpResponse:
    """Step two: the commands to run for this endpoint's engine. POST tests the connection now
    (htmx gets the outcome alone, a plain form the page with the outcome in it)."""
    endpoint = get_object_or_404(Endpoint, pk=eid)
    tested = probe(endpoint) if request.method == "POST" else None
    if tested is not None and request.headers.get("HX-Request"):
        return render(request, "environments/_connection_result.html", {"endpoint": endpoint, "tested": tested})
    parts = urlsplit(endpoint.url)
    host, port = parts.hostname or "", parts.port or DEFAULT_PORT
    context = {
        "endpoint": endpoint,
        "tested": tested,
        "host": host,
        "issue_command": issue_command(endpoint.name, host, port),
        "engine_command": engine_command(host, port, ENGINE_TLS_DIR),
        "engine_dir": ENGINE_TLS_DIR,
        "remote": endpoint.url.startswith("tcp://"),
    }
    return render(request, "environments/berth_setup.html", context)
