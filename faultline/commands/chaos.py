"""The chaos commands: `audit` (nothing lost, duplicated or stuck?), `trace` (a booking's span
tree) and `matrix` (every edge by every fault kind)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from faultline.console import out
from harness.errors import UserError
from harness.traces import Span, booking_trace, load_spans, traced_bookings, waterfall

if TYPE_CHECKING:
    from harness.stack import Stack

app = typer.Typer()
VERDICT_STYLE = {"tolerated": "green", "degraded": "yellow", "violation": "bold red"}
# The audit shows the span trees of this many bookings it found at fault.
TRACED_FINDINGS = 3


def _attach(state_file: Path | None) -> Stack:
    from harness.stack import Stack

    stack = Stack.attach(state_file)
    if stack is None:
        raise UserError("no stack is recorded here: start one with `faultline up --detach`")
    return stack


def _print_trace(booking_id: str, spans: list[Span]) -> bool:
    """The booking's trace as an indented table; False when no span names the booking."""
    trace = booking_trace(spans, booking_id)
    if not trace:
        return False
    table = Table(
        title=f"trace of booking {booking_id} ({trace[0].trace_id})", title_justify="left"
    )
    for column in ("span", "service", "start ms", "ms"):
        table.add_column(column, justify="left" if column in ("span", "service") else "right")
    for row in waterfall(trace):
        table.add_row(
            "  " * row.depth + row.name,
            row.service,
            f"{row.start_ms:.1f}",
            f"{row.duration_ms:.1f}",
            style="red" if row.status == "error" else None,
        )
    out.print(table)
    return True


@app.command()
def audit(
    state_file: Path | None = typer.Option(
        None, "--state-file", help="stack state file (default: the one `faultline up` wrote)"
    ),
    timeout: float = typer.Option(
        30.0, "--timeout", min=0.0, help="seconds to wait for the suite to go quiet first"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Check that nothing was lost, duplicated or left stuck; exit 1 on any violation."""
    from harness.audit import audit_stack

    stack = _attach(state_file)
    report = audit_stack(stack, timeout=timeout)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        table = Table(title=f"audit of run {stack.run_id}")
        for column in ("check", "ok", "lost", "duplicated", "stuck", "unexpected"):
            table.add_column(column, justify="left" if column == "check" else "right")
        for check in report.checks:
            kinds = ("lost", "duplicated", "stuck", "unexpected")
            counts = [str(len(check.ids(kind))) for kind in kinds]
            style = None if check.passed else "red"
            table.add_row(check.name, str(check.ok), *counts, style=style)
        out.print(table)
        if not report.quiet:
            out.print(f"[yellow]the suite was still busy after {timeout:.0f}s[/]")
        for check in report.checks:
            if not check.passed:
                out.print(f"{check.name} ({check.invariant}):", style="red", markup=False)
                for finding in check.findings:
                    out.print(f"  {finding}", markup=False)
        for letter in report.dead_letters:
            out.print(
                f"dead letter in {letter.queue}: {letter.message_id} "
                f"({letter.type or 'unknown type'}, {letter.reason or 'no reason'})",
                markup=False,
            )
        # Why, not only what: the span trees of the first bookings at fault.
        spans = load_spans(stack.state.run_dir) if report.violations else []
        traced = traced_bookings(spans)
        at_fault = [s for s in dict.fromkeys(f.subject for f in report.violations) if s in traced]
        for booking_id in at_fault[:TRACED_FINDINGS]:
            _print_trace(booking_id, spans)
        if len(at_fault) > TRACED_FINDINGS:
            out.print(f"(span trees of {len(at_fault)} bookings: `faultline trace ID` for more)")
        out.print(report.summary(), style="green" if report.passed else "bold red")
    raise typer.Exit(0 if report.passed else 1)


@app.command()
def trace(
    booking_id: str = typer.Argument(..., help="the booking's id"),
    state_file: Path | None = typer.Option(
        None, "--state-file", help="stack state file (default: the one `faultline up` wrote)"
    ),
) -> None:
    """Show a booking's span tree across the services, from the run's traces."""
    stack = _attach(state_file)
    if not _print_trace(booking_id, load_spans(stack.state.run_dir)):
        raise UserError(f"no span of run {stack.run_id} names booking {booking_id}")


@app.command()
def matrix(
    edge: list[str] = typer.Option(
        [], "--edge", help="only this edge, e.g. 'bookings->payments' (repeatable)"
    ),
    fault: list[str] = typer.Option(
        [], "--fault", help="only this fault kind: latency, reset, blackhole, down, http-503"
    ),
    seed: int = typer.Option(1, "--seed", help="seed of every random choice (replays a run)"),
    sample: int = typer.Option(
        0, "--sample", min=0, help="run this many seeded random cells instead of all"
    ),
    topology: Path | None = typer.Option(None, "--topology", help="topology file of the suite"),
    as_json: bool = typer.Option(False, "--json", help="print the cells as JSON"),
) -> None:
    """Every edge by every fault kind: run the booking flow, heal, audit, classify each cell."""
    from chaos.experiments.runner import CHAOS_ENV
    from chaos.matrix import Cell, cells, run_matrix
    from chaos.matrix import sample as choose
    from harness.stack import Stack
    from harness.state import home

    state_file = home() / "matrix" / f"stack-{os.getpid()}.json"
    stack = Stack(topology, ports="auto", env=CHAOS_ENV, state_file=state_file, seed=seed)
    selected = choose(cells(stack.topology, edge, fault), sample, seed)
    if not selected:
        raise UserError("no cell matches the given --edge and --fault")

    def progress(cell: Cell) -> None:
        if not as_json:
            style = VERDICT_STYLE[cell.verdict]
            out.print(
                f"  {cell.edge} x {cell.fault}: [{style}]{cell.verdict}[/] ({cell.seconds:.1f}s)"
            )

    if not as_json:
        out.print(f"starting the suite, then {len(selected)} cells (seed {seed})")
    with stack:
        results = run_matrix(stack, selected, seed, progress)
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "edge": c.edge,
                        "fault": c.fault,
                        "verdict": c.verdict,
                        "notes": c.notes,
                        "steps": c.steps,
                        "seconds": round(c.seconds, 2),
                        "replay": c.replay,
                    }
                    for c in results
                ]
            )
        )
    else:
        _print_matrix(results, seed)
    raise typer.Exit(1 if any(c.verdict == "violation" for c in results) else 0)


def _print_matrix(results: list, seed: int) -> None:
    from chaos.matrix import FAULT_KINDS

    kinds = [k.name for k in FAULT_KINDS if any(c.fault == k.name for c in results)]
    table = Table(title=f"fault matrix (seed {seed})")
    table.add_column("edge")
    for kind in kinds:
        table.add_column(kind)
    by_edge: dict[str, dict[str, str]] = {}
    for c in results:
        style = VERDICT_STYLE[c.verdict]
        by_edge.setdefault(c.edge, {})[c.fault] = f"[{style}]{c.verdict}[/]"
    for edge_name, row in by_edge.items():
        table.add_row(edge_name, *(row.get(kind, "-") for kind in kinds))
    out.print(table)
    for c in results:
        if c.verdict != "tolerated":
            out.print(f"{c.edge} x {c.fault}: {c.verdict}: {c.summary}", markup=False)
            out.print(f"  replay: {c.replay}", markup=False)
    counts = {v: sum(1 for c in results if c.verdict == v) for v in VERDICT_STYLE}
    out.print(", ".join(f"{n} {v}" for v, n in counts.items()))
    out.print(f"replay any cell: faultline matrix --seed {seed} --edge EDGE --fault KIND")
