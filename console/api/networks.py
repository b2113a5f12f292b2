"""REST API for networks: list, create, inspect (with attached containers), remove, prune, connect, disconnect.

Routes (under /api/endpoints/<eid>/networks/; <net> is an ID, an ID prefix or a name):

    GET    /                   the networks, with container counts
    POST   /                   create: {name, driver, subnet, gateway, ip_range, internal, bridge_name, parent, labels}
    POST   /prune/             remove every user-defined network without containers → {"removed": [...]}
    GET    /<net>/             {"network": {...}, "containers": [{id, name, state, ipv4, mac, aliases}]}
    DELETE /<net>/             remove (409 with the attached containers' names while any are attached)
    POST   /<net>/connect/     {container, aliases: [...] or "a, b", ipv4} → 204
    POST   /<net>/disconnect/  {container} → 204

Validation is the create and connect forms' own (console/networks/forms.py), so
the pages and the API agree; errors have the console's one shape; changes are
audited by console/networks/service.py.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from console.accounts import policy
from console.api.containers import ERRORS, refused
from console.endpoints.client import EngineError
from console.endpoints.models import Endpoint
from console.networks import service
from console.networks.fields import key_values_text
from console.networks.forms import ConnectForm, NetworkForm

TAGS = ["networks"]


class NetworkSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    driver = serializers.CharField()
    subnet = serializers.CharField()
    gateway = serializers.CharField()
    ip_range = serializers.CharField()
    internal = serializers.BooleanField()
    created = serializers.DateTimeField(allow_null=True)
    containers = serializers.IntegerField(help_text="How many containers are attached")
    labels = serializers.DictField(child=serializers.CharField())
    options = serializers.DictField(child=serializers.CharField())
    builtin = serializers.BooleanField(help_text="One of the engine's own networks (bridge, host, none)")


class AttachedSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    state = serializers.CharField()
    ipv4 = serializers.CharField(help_text="Address/prefix on this network")
    mac = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())


class NetworkCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    driver = serializers.ChoiceField(choices=("bridge", "macvlan"), required=False)
    subnet = serializers.CharField(required=False, allow_blank=True, help_text="CIDR, e.g. 172.30.0.0/24")
    gateway = serializers.CharField(required=False, allow_blank=True)
    ip_range = serializers.CharField(required=False, allow_blank=True, help_text="CIDR inside the subnet")
    internal = serializers.BooleanField(required=False)
    bridge_name = serializers.CharField(required=False, allow_blank=True, help_text="bridge driver: the Linux bridge's name")
    parent = serializers.CharField(required=False, allow_blank=True, help_text="macvlan driver: the host interface")
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False)


class ConnectSerializer(serializers.Serializer):
    container = serializers.CharField(help_text="A container's name or ID")
    aliases = serializers.JSONField(required=False, help_text='A list of names, or one comma-separated string')
    ipv4 = serializers.CharField(required=False, allow_blank=True)


def form_errors(form: Any) -> ValidationError:
    """A form's errors as the API's 400 (fields shaped like the request)."""
    return ValidationError({name: [str(e) for e in errors] for name, errors in form.errors.items()})


def _row(r: service.NetworkRow) -> dict[str, Any]:
    return {**asdict(r), "builtin": r.builtin}


class NetworksAPIView(APIView):
    def endpoint(self) -> Endpoint:
        return get_object_or_404(Endpoint, pk=self.kwargs["eid"])


class NetworkList(NetworksAPIView):
    required_action = {"GET": "network.view", "POST": "network.create"}  # console/accounts/access.py
    @extend_schema(tags=TAGS, operation_id="networks_list", summary="List networks",
                   responses={200: NetworkSerializer(many=True), **ERRORS})
    def get(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        mine = policy.visible(request.user, endpoint, "network", service.list_networks(endpoint), key=lambda n: n.id)
        return Response(NetworkSerializer([_row(r) for r in mine], many=True).data)

    @extend_schema(tags=TAGS, operation_id="networks_create", summary="Create a network", request=NetworkCreateSerializer,
                   responses={201: inline_serializer("CreatedNetwork", {"id": serializers.CharField(), "name": serializers.CharField()}),
                              **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        endpoint = self.endpoint()
        incoming = NetworkCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = {**incoming.validated_data, "labels": key_values_text(incoming.validated_data.get("labels"))}
        data.setdefault("driver", "bridge")
        form = NetworkForm({k: v for k, v in data.items() if v not in (False, None)}, taken=service.names(endpoint))
        if not form.is_valid():
            raise form_errors(form)
        try:
            nid = service.create_network(request, endpoint, form.spec())
        except EngineError as exc:
            form.add_engine_error(exc.message)
            return refused(exc.message, exc.status, {k: [str(e) for e in v] for k, v in form.errors.items() if k != "__all__"})
        return Response({"id": nid, "name": form.cleaned_data["name"]}, status=201)


class NetworkPrune(NetworksAPIView):
    @extend_schema(tags=TAGS, operation_id="networks_prune", summary="Remove every unused network", request=None,
                   responses={200: inline_serializer("PrunedNetworks", {"removed": serializers.ListField(child=serializers.CharField())}),
                              **ERRORS})
    def post(self, request: Request, eid: int) -> Response:
        return Response({"removed": service.prune_networks(request, self.endpoint())})


class NetworkDetail(NetworksAPIView):
    required_action, required_resource = {"GET": "network.view", "DELETE": "network.remove"}, "net"
    @extend_schema(tags=TAGS, operation_id="networks_inspect", summary="A network and its containers",
                   responses={200: inline_serializer("NetworkDetail", {"network": NetworkSerializer(),
                                                                        "containers": AttachedSerializer(many=True)}),
                              **ERRORS})
    def get(self, request: Request, eid: int, net: str) -> Response:
        row, attached = service.get_network(self.endpoint(), net)
        return Response({"network": NetworkSerializer(_row(row)).data,
                         "containers": AttachedSerializer([asdict(a) for a in attached], many=True).data})

    @extend_schema(tags=TAGS, operation_id="networks_remove", summary="Remove a network", responses={204: None, **ERRORS})
    def delete(self, request: Request, eid: int, net: str) -> Response:
        endpoint = self.endpoint()
        row, attached = service.get_network(endpoint, net)
        if attached:
            names = ", ".join(a.name for a in attached)
            return refused(f"{row.name} still has containers attached ({names}): disconnect or remove them first", 409)
        service.remove_network(request, endpoint, row.id, row.name)
        return Response(status=204)


class NetworkConnect(NetworksAPIView):
    @extend_schema(tags=TAGS, operation_id="networks_connect", summary="Connect a container", request=ConnectSerializer,
                   responses={204: None, **ERRORS})
    def post(self, request: Request, eid: int, net: str) -> Response:
        endpoint = self.endpoint()
        row, _ = service.get_network(endpoint, net)
        incoming = ConnectSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        aliases = data.get("aliases") or ""
        data["aliases"] = ", ".join(str(a) for a in aliases) if isinstance(aliases, list) else str(aliases)
        form = ConnectForm(data, choices=[(data["container"], data["container"])], subnet=row.subnet)
        if not form.is_valid():
            raise form_errors(form)
        d = form.cleaned_data
        service.connect(request, endpoint, row.id, row.name, d["container"], d["aliases"], d["ipv4"])
        return Response(status=204)


class NetworkDisconnect(NetworksAPIView):
    @extend_schema(tags=TAGS, operation_id="networks_disconnect", summary="Disconnect a container",
                   request=inline_serializer("Disconnect", {"container": serializers.CharField()}),
                   responses={204: None, **ERRORS})
    def post(self, request: Request, eid: int, net: str) -> Response:
        endpoint = self.endpoint()
        container = str(request.data.get("container") or "").strip()
        if not container:
            return refused("invalid input: container", 400, {"container": ["This field is required."]})
        row, _ = service.get_network(endpoint, net)
        service.disconnect(request, endpoint, row.id, row.name, container)
        return Response(status=204)


urlpatterns = [
    path("endpoints/<int:eid>/networks/", NetworkList.as_view(), name="api-networks"),
    path("endpoints/<int:eid>/networks/prune/", NetworkPrune.as_view(), name="api-networks-prune"),
    path("endpoints/<int:eid>/networks/<str:net>/", NetworkDetail.as_view(), name="api-network"),
    path("endpoints/<int:eid>/networks/<str:net>/connect/", NetworkConnect.as_view(), name="api-network-connect"),
    path("endpoints/<int:eid>/networks/<str:net>/disconnect/", NetworkDisconnect.as_view(), name="api-network-disconnect"),
]
