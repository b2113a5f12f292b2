"""The network forms: create, and connect a container. Every rule is checked here, server-side, on its field.

Addresses are checked with `ipaddress` the way Docker's IPAM does: the subnet
is a network address (no host bits), the gateway and the range lie inside it,
and a gateway or range needs a subnet. What only the engine can know (a subnet
overlapping another network's, a parent interface missing on its host) comes
back from it and lands on the field it is about (`add_engine_error`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from django import forms

from console.networks.fields import ConditionalCharField, KeyValueField
from console.networks.service import BUILTIN, NetworkSpec

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
IFACE_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
ALIAS_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,61}[a-zA-Z0-9])?$")
DRIVERS = [("bridge", "bridge — a private network on this host"), ("macvlan", "macvlan — containers appear on a host interface's LAN")]
ENGINE_FIELDS = (("bridge name", "bridge_name"), ("parent", "parent"), ("gateway", "gateway"), ("ip-range", "ip_range"),
                 ("ip range", "ip_range"), ("iprange", "ip_range"), ("subnet", "subnet"), ("pool", "subnet"),
                 ("network with name", "name"), ("network name", "name"), ("pre-defined", "name"), ("driver", "driver"),
                 ("plugin", "driver"))


def _subnet(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.ip_network(text, strict=False)
            raise forms.ValidationError(f"{text} has host bits set: did you mean {fixed}?") from None
        raise forms.ValidationError(f"write a subnet in CIDR form, such as 172.30.0.0/24 (got {text})") from None


class NetworkForm(forms.Form):
    name = forms.CharField(max_length=128, widget=forms.TextInput(attrs={"autofocus": True, "placeholder": "e.g. backend",
                                                                         "autocomplete": "off", "spellcheck": "false"}),
                           help_text="Letters, digits, _ . and -. Containers on it find each other by name.")
    driver = forms.ChoiceField(choices=DRIVERS, initial="bridge")
    subnet = forms.CharField(required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "e.g. 172.30.0.0/24"}),
                             help_text="Empty: the engine picks a free one.")
    gateway = forms.CharField(required=False, max_length=64, widget=forms.TextInput(attrs={"placeholder": "e.g. 172.30.0.1"}),
                              help_text="Empty: the subnet's first address.")
    ip_range = forms.CharField(required=False, max_length=64, label="IP range",
                               widget=forms.TextInput(attrs={"placeholder": "e.g. 172.30.0.128/25"}),
                               help_text="Containers get addresses from this part of the subnet only.")
    internal = forms.BooleanField(required=False, label="Internal: no access to the outside world")
    bridge_name = forms.CharField(required=False, max_length=15, label="Bridge name",
                                  widget=forms.TextInput(attrs={"placeholder": "generated", "spellcheck": "false"}),
                                  help_text="The Linux bridge on the host (bridge driver; at most 15 characters).")
    parent = ConditionalCharField(max_length=15, label="Parent interface",
                             widget=forms.TextInput(attrs={"placeholder": "e.g. eth0", "spellcheck": "false"}),
                             help_text="The host interface the macvlan network hangs off (macvlan driver only).")
    labels = KeyValueField()

    def __init__(self, *args: Any, taken: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.taken = taken or set()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not NAME_RE.match(name):
            raise forms.ValidationError("use letters, digits, _ . and -, starting with a letter or digit")
        if name in BUILTIN:
            raise forms.ValidationError(f"{name} is one of the engine's own networks; choose another name")
        if name in self.taken:
            raise forms.ValidationError(f"a network named {name} already exists")
        return name

    def clean_subnet(self) -> str:
        text = self.cleaned_data["subnet"].strip()
        return str(_subnet(text)) if text else ""

    def clean_gateway(self) -> str:
        text = self.cleaned_data["gateway"].strip()
        if text:
            try:
                return str(ipaddress.ip_address(text))
            except ValueError:
                raise forms.ValidationError(f"write an IP address, such as 172.30.0.1 (got {text})") from None
        return ""

    def clean_ip_range(self) -> str:
        text = self.cleaned_data["ip_range"].strip()
        return str(_subnet(text)) if text else ""

    def clean_bridge_name(self) -> str:
        text = self.cleaned_data["bridge_name"].strip()
        if text and not IFACE_RE.match(text):
            raise forms.ValidationError("an interface name: letters, digits, _ . and -, at most 15 characters")
        return text

    def clean_parent(self) -> str:
        text = self.cleaned_data["parent"].strip()
        if text and not IFACE_RE.match(text):
            raise forms.ValidationError("an interface name such as eth0")
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._check_addresses(data)
        driver = data.get("driver")
        if driver == "macvlan" and not data.get("parent") and "parent" not in self.errors:
            self.add_error("parent", "macvlan needs the host interface to hang off, such as eth0")
        if driver != "macvlan" and data.get("parent"):
            self.add_error("parent", "only macvlan networks have a parent interface")
        if driver != "bridge" and data.get("bridge_name"):
            self.add_error("bridge_name", "only bridge networks have a bridge")
        return data

    def _check_addresses(self, data: dict[str, Any]) -> None:
        subnet_text, gateway, ip_range = data.get("subnet"), data.get("gateway"), data.get("ip_range")
        if "subnet" in self.errors:
            return  # the subnet's own error says it; the gateway and range are checked against a valid one
        if not subnet_text:
            for name in ("gateway", "ip_range"):
                if data.get(name) and name not in self.errors:
                    self.add_error(name, "set a subnet first: this lies inside it")
            return
        subnet = ipaddress.ip_network(subnet_text)
        if subnet.version != 4:
            self.add_error("subnet", "only IPv4 subnets are supported")
            return
        if gateway:
            address = ipaddress.ip_address(gateway)
            if address not in subnet:
                self.add_error("gateway", f"{gateway} is not in the subnet {subnet}")
            elif subnet.num_addresses > 2 and address in (subnet.network_address, subnet.broadcast_address):
                self.add_error("gateway", f"{gateway} is the subnet's {'network' if address == subnet.network_address else 'broadcast'} address")
        if ip_range and not ipaddress.ip_network(ip_range).subnet_of(subnet):  # type: ignore[arg-type]
            self.add_error("ip_range", f"{ip_range} is not inside the subnet {subnet}")

    def spec(self) -> NetworkSpec:
        d = self.cleaned_data
        return NetworkSpec(name=d["name"], driver=d["driver"], subnet=d["subnet"], gateway=d["gateway"],
                           ip_range=d["ip_range"], internal=d["internal"], bridge_name=d["bridge_name"],
                           parent=d["parent"], labels=d["labels"])

    def add_engine_error(self, message: str) -> None:
        """Put the engine's refusal on the field it is about (or on the form)."""
        lowered = message.lower()
        field = next((f for words, f in ENGINE_FIELDS if words in lowered), None)
        self.add_error(field, message)


class ConnectForm(forms.Form):
    """Attach a container to a network, optionally with aliases and a fixed address."""

    container = forms.ChoiceField(label="Container")
    aliases = forms.CharField(required=False, max_length=512, help_text="Extra names it answers to on this network; comma-separated.",
                              widget=forms.TextInput(attrs={"placeholder": "e.g. db, primary", "spellcheck": "false"}))
    ipv4 = forms.CharField(required=False, max_length=64, label="IPv4 address",
                           widget=forms.TextInput(attrs={"placeholder": "assigned by the engine"}))

    def __init__(self, *args: Any, choices: list[tuple[str, str]] | None = None, subnet: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["container"].choices = [("", "Choose a container…"), *(choices or [])]
        self.subnet = subnet

    def clean_aliases(self) -> list[str]:
        aliases = [a.strip() for a in re.split(r"[,\s]+", self.cleaned_data["aliases"]) if a.strip()]
        bad = [a for a in aliases if not ALIAS_RE.match(a)]
        if bad:
            raise forms.ValidationError(f"not a valid name: {', '.join(bad)} (letters, digits, _ . -)")
        return aliases

    def clean_ipv4(self) -> str:
        text = self.cleaned_data["ipv4"].strip()
        if not text:
            return ""
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            raise forms.ValidationError(f"write an IPv4 address, such as 172.30.0.10 (got {text})") from None
        if self.subnet and address not in ipaddress.ip_network(self.subnet):
            raise forms.ValidationError(f"{text} is not in this network's subnet {self.subnet}")
        if not self.subnet:
            raise forms.ValidationError("this network has no subnet to pick an address from")
        return text

    def add_engine_error(self, message: str) -> None:
        lowered = message.lower()
        field = "ipv4" if "address" in lowered or "ip " in lowered else "aliases" if "alias" in lowered else None
        self.add_error(field, message)
