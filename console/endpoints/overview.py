"""The overview: every endpoint at a glance, grouped by environment — the console's home with several engines.

The page itself asks no engine anything: it renders one placeholder card per
endpoint, and each card loads itself (`overview_card`, an htmx fragment) and then
refreshes every REFRESH_SECONDS. So a silent engine costs only its own card, and
that card at most CARD_TIMEOUT per engine call before it says "Unreachable"; the
others are not held up. Each card shows what `summarize()` reads: containers
running / stopped / unhealthy, images, volumes, networks, engine name and version.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from console.accounts.access import admin_required
from console.endpoints.dashboard import summarize
from console.endpoints.environments import grouped
from console.endpoints.models import Endpoint

CARD_TIMEOUT = 3.0  # seconds per engine call for one card: a silent engine is shown as such soon
REFRESH_SECONDS = 15  # how often a card reloads itself while the page is open


@admin_required
def overview(request: HttpRequest) -> HttpResponse:
    """All environments and their endpoints as cards that load (and refresh) on their own.

    Administrators only, as the authorisation matrix has it. The template is ready for
    everyone: with `groups` from the endpoints the user may see
    (console.accounts.policy.endpoints_for) and `is_admin` False it hides empty
    environments and the buttons that add engines."""
    context = {"groups": grouped(), "refresh": REFRESH_SECONDS, "is_admin": True}
    return render(request, "environments/overview.html", context)


@admin_required
def overview_card(request: HttpRequest, eid: int) -> HttpResponse:
    """One endpoint's card, read afresh from its engine (htmx fragment)."""
    endpoint = get_object_or_404(Endpoint.objects.select_related("environment"), pk=eid)
    board = summarize(endpoint, timeout=CARD_TIMEOUT, with_events=False)
    context = {"endpoint": endpoint, "board": board, "refresh": REFRESH_SECONDS, "is_admin": True}
    return render(request, "environments/_card.html", context)
