"""The fault API against a real (embedded) Toxiproxy server: faults apply, and always undo."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from chaos.faults import FaultError, Faults, toxics
from harness.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.integration


def _toxics(stack: Any, edge: str) -> list[str]:
    return [t["type"] for t in stack.client.toxics(edge)]


def _enabled(stack: Any, edge: str) -> bool:
    return bool(stack.client.proxy(edge)["enabled"])


def _connects(stack: Any, edge: str) -> bool:
    host, _, port = stack.client.proxy(edge)["listen"].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return False
    return True


def test_a_toxic_lives_exactly_as_long_as_its_block(stack: Any) -> None:
    with Faults(stack, seed=1) as faults:
        with faults.toxic("bookings->payments", toxics.latency(800)):
            assert _toxics(stack, "bookings->payments") == ["latency"]
            assert faults.active == [
                "latency(jitter=0, latency=800) downstream on bookings->payments"
            ]
        assert _toxics(stack, "bookings->payments") == []
        assert faults.active == []


def test_faults_are_undone_even_when_the_run_is_interrupted(stack: Any) -> None:
    faults = Faults(stack, seed=1)
    with pytest.raises(KeyboardInterrupt), faults.toxic("bookings->facilities", toxics.blackhole()):
        raise KeyboardInterrupt
    assert _toxics(stack, "bookings->facilities") == []
    with pytest.raises(AssertionError), faults.down("gateway->users"):
        raise AssertionError("a failing test")
    assert _enabled(stack, "gateway->users")
    faults.close()


def test_a_database_outage_refuses_connections_until_it_ends(stack: Any) -> None:
    assert _connects(stack, "payments->postgres")
    with Faults(stack, seed=1) as faults, faults.database_outage("payments"):
        assert not _connects(stack, "payments->postgres")
        assert _connects(stack, "users->postgres")
    assert _connects(stack, "payments->postgres")


def test_a_downed_edge_stays_down_until_healed(stack: Any) -> None:
    faults = Faults(stack, seed=1)
    faults.disable("payments->postgres")
    assert not _connects(stack, "payments->postgres")

    assert faults.heal() == []

    assert _connects(stack, "payments->postgres")
    faults.close()


def test_a_broker_outage_takes_down_every_edge_to_rabbitmq(stack: Any) -> None:
    rabbit = [e.proxy_name for e in stack.topology.edges if e.kind == "rabbitmq"]
    with Faults(stack, seed=1) as faults, faults.broker_outage():
        assert [e for e in rabbit if _enabled(stack, e)] == []
        assert _enabled(stack, "bookings->postgres")
    assert all(_enabled(stack, e) for e in rabbit)


class _UndoRecorder(ToxiproxyClient):
    """A client of the same server that notes each undoing call, naming the toxic it removes
    by the type the server holds for it, so the order of a heal can be read back."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.undone: list[str] = []

    def remove_toxic(self, proxy: str, name: str) -> None:
        held = {t["name"]: t["type"] for t in self.toxics(proxy)}
        self.undone.append(f"{held.get(name, '?')} removed from {proxy}")
        super().remove_toxic(proxy, name)

    def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        if fields.get("enabled") is True:
            self.undone.append(f"{name} enabled")
        return super().update_proxy(name, **fields)


def test_heal_undoes_everything_still_active_newest_first(stack: Any) -> None:
    recorder = _UndoRecorder(stack.toxiproxy_url)
    faults = Faults(stack, seed=1, client=recorder)
    faults.add("bookings->payments", toxics.reset_peer(toxicity=0.5))
    faults.add("bookings->payments", toxics.latency(100))
    faults.disable("notifications->rabbitmq")
    assert len(faults.active) == 3

    assert faults.heal() == []

    assert recorder.undone == [
        "notifications->rabbitmq enabled",
        "latency removed from bookings->payments",
        "reset_peer removed from bookings->payments",
    ]
    assert _toxics(stack, "bookings->payments") == []
    assert _enabled(stack, "notifications->rabbitmq")
    assert faults.heal() == []  # nothing left: healing twice is harmless
    assert len(recorder.undone) == 3
    assert faults.history[-1] == "notifications->rabbitmq down"
    faults.close()


def test_http_level_faults_reach_the_embedded_server(stack: Any) -> None:
    with (
        Faults(stack, seed=1) as faults,
        faults.toxic("gateway->payments", toxics.http_error(503, share=0.5, path="^/charges")),
    ):
        (toxic,) = stack.client.toxics("gateway->payments")
        assert (toxic["type"], toxic["toxicity"]) == ("http_error", 0.5)
        assert toxic["attributes"]["status"] == 503


def test_an_unknown_edge_is_named_with_the_known_ones(stack: Any) -> None:
    with Faults(stack, seed=1) as faults, pytest.raises(FaultError) as caught:
        faults.add("bookings->stripe", toxics.latency(10))
    assert "unknown edge 'bookings->stripe'" in str(caught.value)
    assert "bookings->payments" in str(caught.value)


def test_the_same_seed_draws_the_same_moments(stack: Any) -> None:
    first = Faults(stack, seed=42)
    again = Faults(stack, seed=42)
    assert first.moments(5, 2.0) == again.moments(5, 2.0)
    assert first.choose(["a", "b", "c"]) == again.choose(["a", "b", "c"])
    first.close()
    again.close()
