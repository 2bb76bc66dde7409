"""Which cells the fault matrix has, and how a seeded sample of them is chosen."""

from __future__ import annotations

import pytest

from chaos.matrix import Cell, cells, sample
from harness.errors import UserError
from harness.topology import load_topology

pytestmark = pytest.mark.unit


def test_every_edge_gets_every_fault_kind_and_http_edges_also_get_503() -> None:
    topology = load_topology()
    grid = cells(topology)
    http = [e for e in topology.edges if e.kind == "http"]
    assert len(grid) == 4 * len(topology.edges) + len(http)
    assert {k.name for e, k in grid if e.proxy_name == "bookings->payments"} == {
        "latency",
        "reset",
        "blackhole",
        "down",
        "http-503",
    }
    assert "http-503" not in {k.name for e, k in grid if e.kind != "http"}


def test_cells_can_be_narrowed_to_edges_and_kinds() -> None:
    grid = cells(load_topology(), ["payments->postgres"], ["down", "latency"])
    assert [(e.proxy_name, k.name) for e, k in grid] == [
        ("payments->postgres", "latency"),
        ("payments->postgres", "down"),
    ]


def test_unknown_edges_and_kinds_are_named() -> None:
    with pytest.raises(UserError, match="unknown edge 'a->b'"):
        cells(load_topology(), ["a->b"])
    with pytest.raises(UserError, match="unknown fault kind 'flood'"):
        cells(load_topology(), None, ["flood"])


def test_a_sample_is_reproducible_from_its_seed() -> None:
    grid = cells(load_topology())
    assert sample(grid, 5, seed=3) == sample(grid, 5, seed=3)
    assert sample(grid, 5, seed=3) != sample(grid, 5, seed=4)
    assert sample(grid, 0, seed=3) == grid


def test_a_cell_keeps_its_worst_verdict_and_says_how_to_replay_it() -> None:
    cell = Cell("bookings->payments", "reset", seed=9)
    cell.worse("violation", "book: answered 500")
    cell.worse("degraded", "details: clean 503")
    assert cell.verdict == "violation"
    assert cell.summary == "book: answered 500; details: clean 503"
    assert cell.replay == "faultline matrix --seed 9 --edge 'bookings->payments' --fault reset"
