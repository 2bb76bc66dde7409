"""The topology loader: the booking suite's file, and bad files rejected with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import UserError
from harness.topology import DEFAULT_TOPOLOGY, load_topology

pytestmark = pytest.mark.unit


def test_booking_suite_topology_loads_with_every_edge_proxied():
    topo = load_topology()
    assert list(topo.services) == [
        "gateway",
        "users",
        "facilities",
        "payments",
        "bookings",
        "notifications",
    ]
    assert topo.public_service.name == "gateway"
    assert topo.services["gateway"].port == 8080
    assert topo.services["gateway"].database is None
    assert topo.services["bookings"].database == "bookings"
    names = {e.proxy_name for e in topo.edges}
    assert {"gateway->users", "bookings->payments", "payments->postgres"} <= names
    # Every service with a database reaches PostgreSQL only through its own proxy.
    for s in topo.services.values():
        if s.database:
            assert f"{s.name}->postgres" in names
    assert topo.postgres.env == "FAULTLINE_POSTGRES_URL"
    assert topo.toxiproxy_port == 8474
    assert topo.consumers() == ("notifications",)


def test_edges_feed_the_documented_svc_variables():
    topo = load_topology()
    by_name = {e.proxy_name: e for e in topo.edges}
    assert by_name["bookings->facilities"].env_var == "SVC_FACILITIES_URL"
    assert by_name["gateway->payments"].env_var == "SVC_PAYMENTS_URL"
    assert by_name["users->postgres"].env_var == "SVC_DATABASE_URL"
    assert by_name["notifications->rabbitmq"].env_var == "SVC_AMQP_URL"
    assert [e.proxy_name for e in topo.edges_from("bookings")] == [
        "bookings->facilities",
        "bookings->payments",
        "bookings->postgres",
        "bookings->rabbitmq",
    ]


def test_topology_file_can_come_from_the_environment(tmp_path, monkeypatch):
    raw = yaml.safe_load(DEFAULT_TOPOLOGY.read_text())
    raw["name"] = "other-suite"
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("FAULTLINE_TOPOLOGY", str(path))
    assert load_topology().name == "other-suite"
    assert load_topology(DEFAULT_TOPOLOGY).name == "booking-suite"


def test_infrastructure_url_prefers_the_environment():
    topo = load_topology()
    url = "postgresql://me@db.example:6543/postgres"
    assert topo.postgres.url({"FAULTLINE_POSTGRES_URL": url}) == url
    assert topo.postgres.url({}) == topo.postgres.default


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(DEFAULT_TOPOLOGY.read_text())
    mutate(raw)
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _edges(raw, *extra):
    raw["edges"] = [*raw["edges"], *extra]


# The index an edge appended to the shipped file gets, so the cases follow the file.
NEW_EDGE = len(yaml.safe_load(DEFAULT_TOPOLOGY.read_text())["edges"])


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("services"), "services: is missing"),
        (lambda r: r["services"]["users"].pop("app"), "services.users.app: is missing"),
        (
            lambda r: r["services"]["users"].update(port=8080),
            "services.users.port: port 8080 is already taken by 'gateway'",
        ),
        (
            lambda r: r["services"]["users"].update(port="x"),
            "services.users.port: must be a port number (1-65535), got 'x'",
        ),
        (
            lambda r: r["services"]["users"].update(app="nocolon"),
            "services.users.app: must look like 'package.module:attribute', got 'nocolon'",
        ),
        (
            lambda r: _rename(r["services"]["users"], "port", "prot"),
            "services.users.prot: is not a known field",
        ),
        (lambda r: _rename(r["services"], "users", "Users"), "lower-case letters"),
        (
            lambda r: _edges(r, {"from": "gateway", "to": "ghost", "kind": "http"}),
            f"edges[{NEW_EDGE}].to: unknown service 'ghost'",
        ),
        (
            lambda r: _edges(r, {"from": "users", "to": "users", "kind": "grpc"}),
            f"edges[{NEW_EDGE}].kind: Input should be 'http', 'postgres' or 'rabbitmq', got 'grpc'",
        ),
        (
            lambda r: _edges(r, {"from": "gateway", "to": "postgres", "kind": "postgres"}),
            f"edges[{NEW_EDGE}].from: service 'gateway' has no database",
        ),
        (
            lambda r: _edges(r, {"from": "gateway", "to": "users", "kind": "http"}),
            f"edges[{NEW_EDGE}]: repeats 'gateway->users'",
        ),
        (
            lambda r: r["edges"].remove({"from": "users", "to": "postgres", "kind": "postgres"}),
            "services.users: has a database but no edge to postgres",
        ),
        (
            lambda r: r["events"].append({"name": "x", "producer": "nobody"}),
            "].producer: unknown service 'nobody'",
        ),
        (lambda r: r["infrastructure"].pop("rabbitmq"), "infrastructure.rabbitmq: is missing"),
    ],
)
def test_bad_topology_is_a_user_error_naming_the_file_the_field_and_the_problem(
    tmp_path, mutate, message
):
    path = _write(tmp_path, mutate)
    with pytest.raises(UserError) as info:
        load_topology(path)
    assert str(info.value).startswith(f"topology file {path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_line_of_the_bad_field_is_named(tmp_path):
    text = DEFAULT_TOPOLOGY.read_text()
    path = tmp_path / "topology.yaml"
    path.write_text(text.replace("port: 8083", "port: 80830"))
    line = text.splitlines().index("    port: 8083") + 1
    with pytest.raises(UserError) as info:
        load_topology(path)
    assert str(info.value).endswith(
        f"services.payments.port: must be a port number (1-65535), got 80830 (line {line})"
    )


def test_missing_and_malformed_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="cannot read topology file"):
        load_topology(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML at line"):
        load_topology(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(UserError, match="the document: Input should be a valid dictionary"):
        load_topology(scalar)
