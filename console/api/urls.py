"""The REST API under /api/: its schema and docs page; each resource adds its routes here."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from console.accounts.access import IsConsoleAdmin, admin_required
from console.api import container_streams, containers, endpoints
from console.api import images as images_api
from console.api import jobs as jobs_api
from console.api import registries as registries_api
from console.api import events as events_api
from console.api import networks as networks_api
from console.api import notifications as notifications_api
from console.api import volumes as volumes_api
from console.api import stacks as stacks_api
from console.api.container_changes import ContainerChangesView
from console.api.docs import ApiDocsView
from console.endpoints import api as environments_api
from console.api.tokens import TokenDetailView, TokenView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsConsoleAdmin]), name="api-schema"),
    path("docs/", admin_required(ApiDocsView.as_view(url_name="api-schema")), name="api-docs"),
    # Endpoints (console/api/endpoints.py: list, detail, status, test) and the caller's API token.
    path("", include(endpoints.urlpatterns)),
    path("tokens/", TokenView.as_view(), name="api-tokens"),
    path("tokens/<int:token_id>/", TokenDetailView.as_view(), name="api-token-detail"),
    # Containers (console/api/containers.py); spec/ before <action>/ so it is not taken for an action.
    path("endpoints/<int:eid>/containers/", containers.ContainerList.as_view(), name="api-containers"),
    path("endpoints/<int:eid>/containers/<str:cid>/", containers.ContainerDetail.as_view(), name="api-container"),
    path("endpoints/<int:eid>/containers/<str:cid>/spec/", containers.ContainerSpecView.as_view(), name="api-container-spec"),
    # One container's logs, stats history and rename (console/api/container_streams.py); before <action>/.
    path("endpoints/<int:eid>/containers/<str:cid>/logs/", container_streams.ContainerLogsView.as_view(),
         name="api-container-logs"),
    path("endpoints/<int:eid>/containers/<str:cid>/stats/history/", container_streams.ContainerStatsHistoryView.as_view(),
         name="api-container-stats-history"),
    path("endpoints/<int:eid>/containers/<str:cid>/rename/", container_streams.ContainerRenameView.as_view(),
         name="api-container-rename"),
    # What changed in its filesystem (console/api/container_changes.py); before <action>/.
    path("endpoints/<int:eid>/containers/<str:cid>/changes/", ContainerChangesView.as_view(), name="api-container-changes"),
    path("endpoints/<int:eid>/containers/<str:cid>/<str:action>/", containers.ContainerAction.as_view(),
         name="api-container-action"),
    # Images (console/api/images.py), background jobs (console/api/jobs.py), registry credentials (console/api/registries.py).
    path("", include(images_api.urlpatterns)),
    path("", include(jobs_api.urlpatterns)),
    path("", include(registries_api.urlpatterns)),
    # Networks, volumes, recent events, notification rules (console/api/networks.py, volumes.py, events.py, notifications.py).
    path("", include(networks_api.urlpatterns)),
    path("", include(volumes_api.urlpatterns)),
    path("endpoints/<int:eid>/events/", events_api.EventHistory.as_view(), name="api-events"),
    path("", include(notifications_api.urlpatterns)),
    # Environments: groups of endpoints (console/endpoints/api.py).
    path("", include(environments_api.urlpatterns)),
    # Stacks (console/api/stacks.py): compose projects, deployed and managed as jobs.
    path("", include(stacks_api.urlpatterns)),
]
