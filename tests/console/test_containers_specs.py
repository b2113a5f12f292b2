"""Pure parts of the containers UI: parsers, spec → engine request, the table's rows and query."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.containers import listing, parsing
from console.containers.specs import create_config, duplicate_of, environment, port_pairs


@pytest.mark.parametrize(("text", "expected"), [
    ("512m", 512 * 1024**2), ("1g", 1024**3), ("1.5g", int(1.5 * 1024**3)), ("256MiB", 256 * 1024**2),
    ("64 MB", 64 * 1024**2), ("1024", 1024), ("10k", 10240),
])
def test_it_parses_sizes(text: str, expected: int) -> None:
    assert parsing.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "m", "12 parsecs", "-1m", "1x"])
def test_it_refuses_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="512m"):
        parsing.parse_size(text)


@pytest.mark.parametrize(("text", "ns"), [
    ("30s", 30 * 10**9), ("1m30s", 90 * 10**9), ("500ms", 5 * 10**8), ("2h", 7200 * 10**9), ("5", 5 * 10**9),
    ("1.5s", 1_500_000_000),
])
def test_it_parses_go_durations(text: str, ns: int) -> None:
    assert parsing.parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["30 s", "s", "1d", "10s5", "abc"])
def test_it_refuses_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parsing.parse_duration_ns(text)


def test_port_ranges_and_their_errors() -> None:
    assert parsing.parse_port_range("80") == (80, 80)
    assert parsing.parse_port_range("8000-8010") == (8000, 8010)
    for bad, words in (("0", "between"), ("70000", "between"), ("90-80", "backwards"), ("http", "write a port")):
        with pytest.raises(ValueError, match=words):
            parsing.parse_port_range(bad)


def test_port_pairs_expand_like_docker_run_p() -> None:
    assert port_pairs("8080", "80") == [(80, "8080")]
    assert port_pairs("", "80-81") == [(80, ""), (81, "")]
    assert port_pairs("8000-8001", "80-81") == [(80, "8000"), (81, "8001")]
    assert port_pairs("8000-8010", "80") == [(80, "8000-8010")]
    with pytest.raises(ValueError, match="as long as"):
        port_pairs("8000-8002", "80-81")


def test_it_reads_env_files() -> None:
    text = '# comment\n\nA=1\nexport B = two\nC="quoted # not a comment\\n"\nD=\'single\'\nE=plain # comment\nF=\n'
    assert parsing.parse_env_file(text) == [("A", "1"), ("B", "two"), ("C", "quoted # not a comment\n"),
                                            ("D", "single"), ("E", "plain"), ("F", "")]
    with pytest.raises(ValueError, match="line 2"):
        parsing.parse_env_file("A=1\nnot a pair\n")


def test_names_commands_and_addresses() -> None:
    assert parsing.check_container_name("/web-1.a_b") == "web-1.a_b"
    with pytest.raises(ValueError):
        parsing.check_container_name("-bad")
    assert parsing.split_command("sh -c 'echo hi'") == ["sh", "-c", "echo hi"]
    with pytest.raises(ValueError, match="cannot split"):
        parsing.split_command("echo 'unterminated")
    assert parsing.parse_host_ip("[::1]") == "::1"
    with pytest.raises(ValueError):
        parsing.parse_host_ip("localhost")
    assert parsing.split_words("web, api  db") == ["web", "api", "db"]


FULL_SPEC = {
    "image": "busybox", "name": "web", "command": "httpd -f -p 80", "entrypoint": "", "working_dir": "/srv",
    "user": "1000", "env": [{"name": "A", "value": "row"}], "env_file": "A=file\nB=2\n",
    "ports": [{"host_ip": "127.0.0.1", "host_port": "8080", "container_port": "80", "protocol": "tcp"},
              {"host_ip": "", "host_port": "", "container_port": "53", "protocol": "udp"}],
    "volumes": [{"type": "volume", "source": "data", "target": "/data", "read_only": False},
                {"type": "bind", "source": "/etc", "target": "/host-etc", "read_only": True},
                {"type": "tmpfs", "source": "", "target": "/scratch", "read_only": False}],
    "network": "backend", "aliases": "web, www", "restart_policy": "on-failure", "max_retries": 3,
    "memory": "64m", "cpu_shares": 512, "cpus": "0.5", "blkio_weight": 300, "pids_limit": 100,
    "labels": [{"name": "app", "value": "web"}],
    "health_command": "wget -q -O- localhost", "health_interval": "5s", "health_timeout": "2s", "health_retries": 3,
    "health_start_period": "", "no_healthcheck": False,
}


def test_a_spec_becomes_the_engine_request() -> None:
    config = create_config(FULL_SPEC)
    assert config["Image"] == "busybox"
    assert config["Cmd"] == ["httpd", "-f", "-p", "80"] and "Entrypoint" not in config
    assert config["WorkingDir"] == "/srv" and config["User"] == "1000"
    assert config["Env"] == ["A=row", "B=2"]  # a row wins over the .env file
    assert config["Labels"] == {"app": "web"}
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    host = config["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                    "53/udp": [{"HostIp": "", "HostPort": ""}]}
    assert host["Mounts"] == [
        {"Type": "volume", "Source": "data", "Target": "/data", "ReadOnly": False},
        {"Type": "bind", "Source": "/etc", "Target": "/host-etc", "ReadOnly": True},
        {"Type": "tmpfs", "Target": "/scratch", "ReadOnly": False},
    ]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert (host["Memory"], host["NanoCpus"], host["CpuShares"], host["BlkioWeight"], host["PidsLimit"]) == (
        64 * 1024**2, 500_000_000, 512, 300, 100)
    assert host["NetworkMode"] == "backend"
    assert config["NetworkingConfig"] == {"EndpointsConfig": {"backend": {"Aliases": ["web", "www"]}}}
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q -O- localhost"], "Interval": 5 * 10**9,
                                     "Timeout": 2 * 10**9, "Retries": 3}


def test_a_minimal_spec_leaves_the_image_defaults_alone() -> None:
    config = create_config({"image": "busybox"})
    assert "Cmd" not in config and "Healthcheck" not in config and "NetworkingConfig" not in config
    assert config["HostConfig"]["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}
    assert "NetworkMode" not in config["HostConfig"]
    assert create_config({"image": "busybox", "no_healthcheck": True})["Healthcheck"] == {"Test": ["NONE"]}


def test_environment_and_duplicate() -> None:
    assert environment({"env_file": "X=1", "env": [{"name": "Y", "value": "a=b"}]}) == ["X=1", "Y=a=b"]
    assert duplicate_of({"name": "web", "image": "busybox", "ports": [{"host_port": "8080", "container_port": "80"}]}) == {
        "name": "web-copy", "image": "busybox", "ports": [{"host_port": "", "container_port": "80"}]}
    assert duplicate_of({"name": "", "image": "busybox"})["name"] == ""


SUMMARY = {
    "Id": "a" * 64, "Names": ["/web"], "Image": "busybox", "State": "running", "Status": "Up 5 minutes (healthy)",
    "Created": 1_700_000_000, "Labels": {"app": "web"},
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"IP": "127.0.0.1", "PrivatePort": 443, "PublicPort": 8443, "Type": "tcp"},
              {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
              {"PrivatePort": 9000, "Type": "tcp"}],
}


def test_rows_link_published_ports_where_a_browser_reaches_them() -> None:
    row = listing.row("unix:///run/berth/engine.sock", SUMMARY)
    assert (row.name, row.health, row.uptime, row.short_id) == ("web", "healthy", "Up 5 minutes", "a" * 12)
    assert row.created == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert [(p.label, p.url) for p in row.ports] == [
        ("5353→53/udp", ""),
        ("8080→80/tcp", "http://127.0.0.1:8080/"),
        ("127.0.0.1:8443→443/tcp", "http://127.0.0.1:8443/"),
        ("9000/tcp", ""),
    ]
    remote = listing.row("tcp://10.1.2.3:2376", SUMMARY)
    assert [p.url for p in remote.ports] == ["", "http://10.1.2.3:8080/", "", ""]  # remote loopback: out of reach


@pytest.mark.parametrize(("status", "health"), [
    ("Up 1 second (health: starting)", "starting"), ("Up 2 hours (unhealthy)", "unhealthy"),
    ("Up 2 hours", "none"), ("Exited (0) 1 minute ago", "none"), ("Up 3 minutes (Paused)", "none"),
])
def test_health_comes_from_the_status_text(status: str, health: str) -> None:
    assert listing.health_of(status) == health


def test_the_query_searches_filters_and_sorts() -> None:
    def make(name: str, state: str, status: str, created: int, image: str = "busybox") -> dict:
        return {**SUMMARY, "Id": name * 8, "Names": [f"/{name}"], "State": state, "Status": status, "Created": created,
                "Image": image, "Labels": {}}
    rows = listing.rows("unix:///x", [make("bb", "running", "Up 1 minute (healthy)", 3),
                                      make("aa", "exited", "Exited (0) 1 minute ago", 2, "nginx"),
                                      make("cc", "running", "Up 1 minute (unhealthy)", 1)])
    names = lambda q: [r.name for r in listing.select(rows, q)]  # noqa: E731
    assert names(listing.Query()) == ["aa", "bb", "cc"]
    assert names(listing.Query(sort="created", desc=True)) == ["bb", "aa", "cc"]
    assert names(listing.Query(state="running")) == ["bb", "cc"]
    assert names(listing.Query(health="unhealthy")) == ["cc"]
    assert names(listing.Query(q="NGINX")) == ["aa"]
    assert names(listing.Query(sort="state")) == ["bb", "cc", "aa"]
    query = listing.Query.from_params({"state": "bogus", "sort": "evil", "dir": "desc", "q": "  x "})
    assert query == listing.Query(q="x", desc=True)
