"""The fault matrix: every edge of the topology by every fault kind, the booking flow run through
the gateway under the fault, then heal, audit and classify the cell.

- tolerated: the user saw no difference (every step succeeded, the booking confirmed);
- degraded: clean refusals (4xx, 503) or a stale/cancelled outcome, and a consistent audit;
- violation: a 500, a hang, an inconsistent audit, or a suite that did not recover after heal.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from chaos.experiments.runner import SETTLE_DEADLINE_S, TIMEOUT_S
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults, toxics
from chaos.faults.toxics import Toxic
from harness.audit import audit_stack
from harness.errors import UserError
from harness.suite_client import Answer, Booking, Slot, SuiteError, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack
    from harness.topology import Edge, Topology

Verdict = Literal["tolerated", "degraded", "violation"]
PATIENCE_S = 5.0  # a step unanswered after this long is a hang
RECOVERY_DEADLINE_S = 25.0  # breakers re-close and AMQP reconnects within this after heal


@dataclass(frozen=True)
class FaultKind:
    name: str
    describe: str
    toxic: Callable[[], Toxic] | None  # None: the proxy is taken down instead
    edge_kinds: tuple[str, ...] = ("http", "postgres", "rabbitmq")


FAULT_KINDS: tuple[FaultKind, ...] = (
    FaultKind(
        "latency",
        "latency above the call timeout",
        lambda: toxics.latency(int(TIMEOUT_S * 1000 * 4)),
    ),
    FaultKind("reset", "every connection reset", lambda: toxics.reset_peer()),
    FaultKind("blackhole", "data swallowed, no answer", toxics.blackhole),
    FaultKind("down", "proxy disabled: connections refused", None),
    FaultKind("http-503", "every request answered 503", lambda: toxics.http_error(503), ("http",)),
)
KINDS_BY_NAME = {k.name: k for k in FAULT_KINDS}


@dataclass
class Cell:
    edge: str
    fault: str
    seed: int
    verdict: Verdict = "tolerated"
    notes: list[str] = field(default_factory=list)
    steps: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def replay(self) -> str:
        return f"faultline matrix --seed {self.seed} --edge '{self.edge}' --fault {self.fault}"

    def worse(self, verdict: Verdict, note: str) -> None:
        order = ("tolerated", "degraded", "violation")
        if order.index(verdict) > order.index(self.verdict):
            self.verdict = verdict
        self.notes.append(note)

    @property
    def summary(self) -> str:
        return "; ".join(self.notes) if self.notes else "no visible effect"


def cells(
    topology: Topology,
    edges: Iterable[str] | None = None,
    kinds: Iterable[str] | None = None,
) -> list[tuple[Edge, FaultKind]]:
    """The matrix in topology order, optionally narrowed to some edges and fault kinds."""
    wanted_edges = set(edges or [])
    wanted_kinds = set(kinds or [])
    for name in wanted_edges:
        topology.edge(name)  # UserError naming an unknown edge
    unknown = wanted_kinds - KINDS_BY_NAME.keys()
    if unknown:
        raise UserError(
            f"unknown fault kind {sorted(unknown)[0]!r} (kinds: {', '.join(KINDS_BY_NAME)})"
        )
    return [
        (edge, kind)
        for edge in topology.edges
        if not wanted_edges or edge.proxy_name in wanted_edges
        for kind in FAULT_KINDS
        if edge.kind in kind.edge_kinds and (not wanted_kinds or kind.name in wanted_kinds)
    ]


def sample(all_cells: list[tuple[Edge, FaultKind]], count: int, seed: int) -> list:
    """A seeded choice of `count` cells (all when count is 0 or covers them)."""
    if count <= 0 or count >= len(all_cells):
        return list(all_cells)
    chosen = random.Random(seed).sample(range(len(all_cells)), count)
    return [all_cells[i] for i in sorted(chosen)]


class _Flow:
    """The booking flow through the gateway, as a user runs it; a step unanswered after
    PATIENCE_S is given up."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        try:
            self.client = suite.public(timeout=PATIENCE_S)
            self.user_id = self.client.create_user(name="Ada Mourner").id
        except SuiteError as exc:
            raise UserError(f"the gateway refused the flow's set-up: {exc}") from exc
        self.facility_id = suite.facility()

    def book(self, key: str, slot: Slot) -> Answer[Booking]:
        answer = self.client.try_book(self.user_id, self.facility_id, slot, key=key)
        self.suite.placed(answer.booking_id)
        return answer

    def run(self) -> tuple[dict[str, Answer[Any]], str, Slot]:
        """Every step once; returns the answers, the booking's key and slot (for replay)."""
        key, slot = uuid.uuid4().hex, self.suite.slot()
        steps: dict[str, Answer[Any]] = {
            "create user": self.client.try_create_user(name="Ada Mourner"),
            "list facilities": self.client.try_facilities(),
            "book": self.book(key, slot),
        }
        booking_id = steps["book"].booking_id
        if booking_id:
            steps["details"] = self.client.try_booking_details(booking_id)
        return steps, key, slot


def run_cell(stack: Stack, edge: str, kind: str, seed: int) -> Cell:
    fault = KINDS_BY_NAME[kind]
    cell = Cell(edge, kind, seed)
    t0 = time.monotonic()
    with Suite(stack, seed=seed) as suite, Faults(stack, seed=seed) as faults:
        baseline = audit_stack(stack, wait=False)
        flow = _Flow(suite)
        key = faults.disable(edge) if fault.toxic is None else [faults.add(edge, fault.toxic())]
        try:
            steps, booking_key, slot = flow.run()
        finally:
            faults.undo(*key)
        for name, answer in steps.items():
            cell.steps[name] = answer.describe()
            if answer.status is None:
                cell.worse("violation", f"{name}: {answer.describe()}")
            elif answer.status >= 500 and answer.status != 503:
                cell.worse("violation", f"{name}: answered {answer.status}")
            elif answer.status >= 400:
                cell.worse("degraded", f"{name}: clean {answer.status}")
        listing = steps["list facilities"].value
        if listing is not None and listing.stale:
            cell.worse("degraded", "list facilities: stale copy")
        # A user whose booking request failed tries again once the fault is over.
        flow.book(booking_key, slot)
        _after_heal(stack, suite, flow, cell)
        # Audited whole, minus what was wrong before: lost events carry no booking id.
        report = audit_stack(stack, timeout=SETTLE_DEADLINE_S).since(baseline)
        if not report.passed:
            cell.worse("violation", "audit: " + "; ".join(str(f) for f in report.violations[:3]))
        for letter in report.dead_letters:
            cell.notes.append(f"dead letter {letter.message_id} ({letter.type}, {letter.reason})")
    cell.seconds = time.monotonic() - t0
    return cell


def _after_heal(stack: Stack, suite: Suite, flow: _Flow, cell: Cell) -> None:
    outcomes = suite.wait_settled(deadline_s=SETTLE_DEADLINE_S)
    unsettled = [i for i in suite.bookings if i not in outcomes or not outcomes[i].settled]
    if unsettled:
        cell.worse("violation", f"{len(unsettled)} booking(s) never settled after heal")
    first = suite.bookings[0] if suite.bookings else None
    status = status_of(outcomes, first)
    if first and status and status != "confirmed":
        cell.worse("degraded", f"booking ended {status} ({outcomes[first].reason})")
    recovered = wait_until(lambda: _confirms(flow), RECOVERY_DEADLINE_S, 0.2)
    if not recovered:
        cell.worse("violation", f"no booking confirmed within {RECOVERY_DEADLINE_S:.0f}s of heal")


def _confirms(flow: _Flow) -> bool:
    answer = flow.book(uuid.uuid4().hex, flow.suite.slot())
    if not answer.booking_id:
        return False
    final = flow.suite.wait_settled([answer.booking_id], 5.0)
    return status_of(final, answer.booking_id) == "confirmed"


def run_matrix(
    stack: Stack,
    selected: list[tuple[Edge, FaultKind]],
    seed: int,
    progress: Callable[[Cell], None] | None = None,
) -> list[Cell]:
    results = []
    for edge, kind in selected:
        cell = run_cell(stack, edge.proxy_name, kind.name, seed)
        results.append(cell)
        if progress is not None:
            progress(cell)
    return results
