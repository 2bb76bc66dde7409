"""Faults as data and the fault journal: what a scenario file names is what gets injected, and
what a dead process injected is healed by another one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chaos.faults import FaultError, FaultJournal, Faults, UndoStep
from chaos.faults.spec import DatabaseFault, DownFault, HttpFault, ToxicFault, apply, parse

pytestmark = pytest.mark.integration


def _toxics(stack: Any, edge: str) -> list[dict[str, Any]]:
    return stack.client.toxics(edge)


def _enabled(stack: Any, edge: str) -> bool:
    return bool(stack.client.proxy(edge)["enabled"])


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (
            {"kind": "toxic", "edge": "a->b", "type": "latency", "attributes": {"latency": 5}},
            ToxicFault,
        ),
        ({"kind": "http", "edge": "a->b", "status": 503, "path": "^/charges"}, HttpFault),
        ({"kind": "down", "edges": ["a->b"]}, DownFault),
        ({"kind": "database", "service": "bookings", "latency_ms": 300}, DatabaseFault),
    ],
)
def test_plain_data_becomes_the_fault_it_names(data: dict[str, Any], kind: type) -> None:
    assert isinstance(parse(data), kind)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"kind": "flood", "edge": "a->b"}, "does not match any of the expected tags"),
        ({"kind": "toxic", "edge": "a->b", "type": "latncy"}, "type"),
        ({"kind": "http", "edge": "a->b"}, "exactly one of status or latency_ms"),
        ({"kind": "down", "edges": []}, "at least 1 item"),
        ({"kind": "broker", "for": "10s"}, "Extra inputs are not permitted"),
        ({"kind": "toxic", "edge": "a->b", "type": "latency", "toxicity": 2}, "less than or equal"),
    ],
)
def test_bad_fault_data_is_refused_with_the_reason(data: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse(data)
    assert problem in str(caught.value)


def test_each_network_kind_lands_on_its_edges_and_heals(stack: Any) -> None:
    with Faults(stack, seed=1) as faults:
        keys = apply(parse({"kind": "database", "service": "bookings", "latency_ms": 300}), faults)
        (toxic,) = _toxics(stack, "bookings->postgres")
        assert (toxic["type"], toxic["attributes"]["latency"]) == ("latency", 300)
        faults.undo(*keys)
        assert _toxics(stack, "bookings->postgres") == []

        keys = apply(parse({"kind": "broker"}), faults)
        rabbit = faults.edges("rabbitmq")
        assert rabbit and not any(_enabled(stack, e) for e in rabbit)
        faults.undo(*keys)
        assert all(_enabled(stack, e) for e in rabbit)

        apply(parse({"kind": "http", "edge": "gateway->payments", "status": 503}), faults)
        assert _toxics(stack, "gateway->payments")[0]["type"] == "http_error"
    assert _toxics(stack, "gateway->payments") == []


def test_an_unknown_name_touches_nothing(stack: Any, tmp_path: Path) -> None:
    journal = FaultJournal(tmp_path / "faults.journal")
    with Faults(stack, seed=1, journal=journal) as faults:
        with pytest.raises(FaultError, match="unknown service 'billing'"):
            apply(parse({"kind": "database", "service": "billing"}), faults)
        with pytest.raises(FaultError, match="unknown edge 'gateway->stripe'"):
            apply(parse({"kind": "down", "edges": ["gateway->users", "gateway->stripe"]}), faults)
        assert faults.active == []
    assert _enabled(stack, "gateway->users")
    assert journal.pending() == []


# The injecting process: the same proxies, a journal, two faults, then SIGKILL before healing.
_INJECT_AND_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from types import SimpleNamespace
    from chaos.faults import FaultJournal, Faults
    from chaos.faults.spec import apply, parse
    from harness.topology import load_topology

    stack = SimpleNamespace(topology=load_topology(), toxiproxy_url=sys.argv[1])
    faults = Faults(stack, seed=3, journal=FaultJournal(sys.argv[2]))
    apply(parse({"kind": "toxic", "edge": "bookings->payments", "type": "latency",
                 "attributes": {"latency": 2000}}), faults)
    apply(parse({"kind": "down", "edges": ["gateway->bookings"]}), faults)
    print("injected", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


LATENCY = "latency(latency=2000) downstream on bookings->payments"


def test_a_journal_lets_another_process_heal_what_a_killed_one_injected(
    stack: Any, tmp_path: Path
) -> None:
    path = tmp_path / "faults.journal"
    done = subprocess.run(
        [sys.executable, "-c", _INJECT_AND_DIE, stack.toxiproxy_url, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "injected" in done.stdout
    assert len(_toxics(stack, "bookings->payments")) == 1
    assert not _enabled(stack, "gateway->bookings")

    journal = FaultJournal(path)
    assert [p.what for p in journal.pending()] == [
        LATENCY,
        "gateway->bookings down",
    ]
    healed, problems = journal.recover(stack, stack.client)

    assert problems == []
    assert healed == ["gateway->bookings down", LATENCY]  # newest first
    assert _toxics(stack, "bookings->payments") == []
    assert _enabled(stack, "gateway->bookings")
    assert journal.pending() == []
    assert journal.recover(stack, stack.client) == ([], [])  # twice is harmless


def test_a_torn_last_line_is_a_fault_never_applied(tmp_path: Path) -> None:
    path = tmp_path / "faults.journal"
    journal = FaultJournal(path)

    first = journal.begin("x down", UndoStep(op="enable", target="x"))
    journal.begin("y down", UndoStep(op="enable", target="y"))
    journal.healed(first)
    with path.open("a") as f:
        f.write('{"event": "fault", "id": "z", "wh')  # the writer died mid-line
    assert [p.what for p in journal.pending()] == ["y down"]
    assert os.stat(path).st_size > 0


def test_released_faults_outlive_their_injector_and_the_journal_heals_them(
    stack: Any, tmp_path: Path
) -> None:
    journal = FaultJournal(tmp_path / "faults.journal")
    with Faults(stack, seed=4, journal=journal) as faults:
        apply(parse({"kind": "down", "edges": ["gateway->bookings"]}), faults)
        assert faults.release() == ["gateway->bookings down"]
    assert not _enabled(stack, "gateway->bookings")  # leaving the block healed nothing
    assert journal.recover(stack, stack.client) == (["gateway->bookings down"], [])
    assert _enabled(stack, "gateway->bookings")


def test_faults_with_no_journal_are_not_released(stack: Any) -> None:
    with Faults(stack, seed=5) as faults:
        apply(parse({"kind": "down", "edges": ["gateway->users"]}), faults)
        with pytest.raises(FaultError, match="no journal"):
            faults.release()
    assert _enabled(stack, "gateway->users")
