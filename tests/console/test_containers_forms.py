"""The create form's validation (console/containers/forms.py, specforms.py): one set of rules for page and API."""

from __future__ import annotations

from typing import Any

import pytest

from console.containers.specforms import SpecForms, engine_error_field, spec_to_data


def validate(spec: dict[str, Any]) -> SpecForms:
    bundle = SpecForms.from_spec(spec)
    bundle.is_valid()
    return bundle


def test_a_good_spec_comes_back_as_written() -> None:
    spec = {
        "image": " busybox:latest ", "name": "web", "command": "httpd -f -p 80", "memory": "64m", "cpus": "0.5",
        "env": [{"name": "GREETING", "value": " hello "}, {"name": "", "value": ""}],
        "ports": [{"host_port": "8080", "container_port": "80"}],
        "volumes": [{"type": "volume", "source": "data", "target": "/data/"}],
        "labels": [{"name": "app", "value": "web"}],
        "health_command": "true", "health_interval": "5s", "restart_policy": "on-failure", "max_retries": 2,
    }
    bundle = validate(spec)
    assert bundle.field_errors() == {}
    clean = bundle.spec()
    assert clean["image"] == "busybox:latest"
    assert clean["memory"] == "64m" and clean["cpus"] == "0.5"  # kept as typed, not converted
    assert clean["env"] == [{"name": "GREETING", "value": " hello "}]  # empty rows dropped, values unstripped
    assert clean["ports"] == [{"host_ip": "", "host_port": "8080", "container_port": "80", "protocol": "tcp"}]
    assert clean["volumes"] == [{"type": "volume", "source": "data", "target": "/data", "read_only": False}]
    assert clean["restart_policy"] == "on-failure" and clean["max_retries"] == 2


@pytest.mark.parametrize(("spec", "errors"), [
    ({}, {"image": ["This field is required."]}),
    ({"image": "bad image"}, {"image": ["write an image reference such as busybox or nginx:1.27"]}),
    ({"image": "busybox", "name": "-x"}, {"name": ["use letters, digits, '_', '.' and '-', starting with a letter or digit"]}),
    ({"image": "busybox", "memory": "lots"}, {"memory": ["write a size such as 512m, 1g or 268435456 (bytes)"]}),
    ({"image": "busybox", "memory": "1m"}, {"memory": ["the smallest memory limit is 6m"]}),
    ({"image": "busybox", "cpus": "0"}, {"cpus": ["must be more than 0"]}),
    ({"image": "busybox", "blkio_weight": 5}, {"blkio_weight": ["between 10 and 1000 (0 leaves the default)"]}),
    ({"image": "busybox", "pids_limit": 0}, {"pids_limit": ["more than 0, or -1 for no limit"]}),
    ({"image": "busybox", "working_dir": "srv"}, {"working_dir": ["must be an absolute path (starting with /)"]}),
    ({"image": "busybox", "max_retries": 3}, {"max_retries": ["only the on-failure policy retries a number of times"]}),
    ({"image": "busybox", "aliases": "web"}, {"aliases": ["aliases need a user-defined network"]}),
    ({"image": "busybox", "health_interval": "5s"}, {"health_command": ["give the command that checks the container's health"]}),
    ({"image": "busybox", "health_command": "true", "health_timeout": "soon"}, {"health_timeout": ["write a duration such as 30s, 1m30s or 500ms"]}),
    ({"image": "busybox", "no_healthcheck": True, "health_command": "true"},
     {"no_healthcheck": ["either disable the health check or describe one, not both"]}),
    ({"image": "busybox", "env_file": "A=1\noops"}, {"env_file": ["line 2: expected NAME=value, got 'oops'"]}),
    ({"image": "busybox", "command": "echo 'x"}, {"command": ["cannot split this command: No closing quotation"]}),
])
def test_bad_fields_get_their_own_errors(spec: dict[str, Any], errors: dict[str, list[str]]) -> None:
    assert validate(spec).field_errors() == errors


def test_row_errors_are_shaped_like_the_rows() -> None:
    bundle = validate({
        "image": "busybox",
        "ports": [{"container_port": "80"}, {"host_port": "1-3", "container_port": "80-81"}, {"host_ip": "nope", "container_port": "80"},
                  {"host_port": "8080"}],
        "volumes": [{"type": "bind", "source": "rel", "target": "/x"}, {"type": "tmpfs", "source": "s", "target": "y"},
                    {"type": "volume", "source": "a", "target": "/same"}],
        "env": [{"name": "A B", "value": "1"}, {"name": "", "value": "orphan"}],
    })
    errors = bundle.field_errors()
    assert errors["ports"] == [{}, {"host_port": ["a host range must be as long as the container range"]},
                               {"host_ip": ["write an IP address such as 127.0.0.1, or leave it empty for all addresses"]},
                               {"container_port": ["which port in the container?"]}]
    assert errors["volumes"] == [{"source": ["a bind mount needs an absolute host path"]},
                                 {"target": ["an absolute path in the container, such as /data"], "source": ["a tmpfs has no source"]},
                                 {}]
    assert errors["env"] == [{"name": ["a variable name has no spaces and no '='"]}, {"name": ["give the value a name"]}]


def test_two_mounts_on_one_target_are_refused() -> None:
    bundle = validate({"image": "busybox", "volumes": [{"source": "a", "target": "/d"}, {"source": "b", "target": "/d/"}]})
    assert bundle.field_errors() == {"volumes_errors": ["more than one mount on /d"]}


def test_prefilled_rows_can_be_cleared() -> None:
    """Rows that came from a kept spec are ignored once emptied (the page's remove button empties them)."""
    data = spec_to_data({"image": "busybox", "ports": [{"container_port": "80"}]})
    data["ports-INITIAL_FORMS"] = "1"
    data["ports-0-container_port"] = ""
    bundle = SpecForms(data=data)
    assert bundle.is_valid(), bundle.field_errors()
    assert bundle.spec()["ports"] == []


def test_rows_must_be_lists_of_objects() -> None:
    with pytest.raises(ValueError, match="ports must be a list"):
        spec_to_data({"image": "busybox", "ports": "80:80"})


@pytest.mark.parametrize(("message", "field"), [
    ("No such image: nope:latest", "image"),
    ('Conflict. The container name "/web" is already in use by container "abc".', "name"),
    ("driver failed programming external connectivity: Bind for 0.0.0.0:80 failed: port is already allocated", "ports"),
    ("network backend not found", "network"),
    ("invalid mount config for type \"bind\": bind source path does not exist: /nope", "volumes"),
    ("Minimum memory limit allowed is 6MB", "memory"),
    ("Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available", "cpus"),
    ('exec: "nope": executable file not found in $PATH', "command"),
    ("something else entirely", None),
])
def test_engine_errors_land_on_their_field(message: str, field: str | None) -> None:
    assert engine_error_field(message) == field


def test_engine_errors_show_on_the_form() -> None:
    bundle = validate({"image": "busybox"})
    bundle.add_engine_error("port is already allocated")
    bundle.add_engine_error("No such image: busybox")
    assert bundle.field_errors() == {"ports_errors": ["port is already allocated"], "image": ["No such image: busybox"]}
    assert bundle.engine_message == "No such image: busybox"


def test_an_unbound_form_prefills_from_a_spec() -> None:
    bundle = SpecForms(initial_spec={"image": "busybox", "memory": "64m", "ports": [{"container_port": "80", "protocol": "udp"}]})
    assert bundle.form["memory"].value() == "64m"
    ports = bundle.rows["ports"]
    assert len(ports.forms) == 2  # the kept row and one empty
    assert ports.forms[0]["protocol"].value() == "udp"
