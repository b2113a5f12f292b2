"""The console's ASGI application, served by Daphne: HTTP through Django, websockets through Channels.

Static files: Daphne serves this one application, so `/static/` is answered
here rather than by a separate web server. `CollectedStaticFiles` is Django's
own ASGI static handler pointed at STATIC_ROOT, i.e. what `manage.py
collectstatic` wrote (which `make up` runs); in DEBUG it looks files up in the
source folders instead, so edits show without collecting. This adds no
dependency; a front proxy can serve var/static itself later and this keeps
working behind it.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
django_asgi_app = get_asgi_application()  # sets Django up; import models and consumers only after this

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponseBase
from django.views import static

from console.containers.routing import websocket_urlpatterns as container_ws
from console.endpoints.routing import websocket_urlpatterns as endpoint_ws
from console.jobs.routing import websocket_urlpatterns as jobs_ws
from console.stacks.routing import websocket_urlpatterns as stacks_ws
from console.observe.asgi import WebsocketObserver

# Websocket routes of every app (consumers for logs, stats, events, exec).
websocket_urlpatterns: list = [*endpoint_ws, *container_ws, *jobs_ws]
websocket_urlpatterns += stacks_ws  # combined stack logs (console/stacks/routing.py)


class CollectedStaticFiles(ASGIStaticFilesHandler):
    """Serves STATIC_URL from STATIC_ROOT (or, in DEBUG, from the staticfiles finders)."""

    def serve(self, request: HttpRequest) -> HttpResponseBase:
        try:
            if settings.DEBUG:
                return super().serve(request)
            return static.serve(request, self.file_path(request.path), document_root=settings.STATIC_ROOT)
        except SuspiciousFileOperation:  # /static/../x: Django's handler lets this become a 500
            raise Http404("no such static file") from None


application = ProtocolTypeRouter(
    {
        "http": CollectedStaticFiles(django_asgi_app),
        # WebsocketObserver (console/observe/asgi.py): request id, handshake span and metrics per connection.
        "websocket": WebsocketObserver(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))), websocket_urlpatterns),
    }
)
