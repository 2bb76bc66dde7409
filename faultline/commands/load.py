"""The load command: `faultline load PROFILE` runs a Locust profile whose thresholds decide the
exit code, then audits the suite; `faultline load --list` shows the profiles."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from faultline.console import err, out
from harness import extras
from harness.errors import UserError

if TYPE_CHECKING:
    from load.api import LoadResult, LoadRun

app = typer.Typer()
PROGRESS_EVERY_S = 10.0


def _rate(text: str) -> float:
    """`20`, `20/s`, `1200/m` as iterations per second."""
    value, _, unit = text.strip().partition("/")
    per = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}.get(unit.strip())
    try:
        rate = float(value)
    except ValueError:
        rate = None
    if per is None or rate is None:
        raise UserError(f"bad rate {text!r}: expected e.g. 20/s or 600/m")
    return rate / per


@app.command()
def load(
    profile: Annotated[str | None, typer.Argument(help="Profile name (see --list).")] = None,
    users: Annotated[
        int | None, typer.Option("--users", "-u", help="Peak users (closed model).")
    ] = None,
    rate: Annotated[
        str | None, typer.Option("--rate", "-r", help="Peak arrival rate, e.g. 20/s (open model).")
    ] = None,
    duration: Annotated[
        str | None, typer.Option("--duration", "-d", help="Length of the run, e.g. 30s, 2m.")
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            "-t",
            help="k6 threshold, e.g. 'http_req_duration{name:POST /api/bookings}: p(95)<800' "
            "(repeatable; replaces the profile's on the same figure).",
        ),
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Where reports go (default reports/load-<time>/)."),
    ] = None,
    processes: Annotated[
        int, typer.Option("--processes", "-p", min=0, help="Local Locust worker processes.")
    ] = 0,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Gateway URL (default: the stack `faultline up` started)."),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option("--state-file", help="Stack state file to load and audit.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of slots and choices.")] = None,
    no_audit: Annotated[bool, typer.Option("--no-audit", help="Skip the audit.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="Show the profiles and exit.")] = False,
) -> None:
    """Run a load profile; its thresholds and the audit decide the exit code.

    Exit 0 (held), 99 (a threshold failed), 98 (generator saturated), 1 (the audit found a
    loss), 2 (usage error).
    """
    extras.require("load", "faultline load")
    from load.api import Overrides, list_profiles, start
    from load.profiles import duration_arg

    if list_:
        _print_profiles(list_profiles())
        return
    if profile is None:
        raise UserError("name a profile (faultline load --list shows them)")
    stack = _stack(state_file, host)
    overrides = Overrides(
        users=users,
        rate=_rate(rate) if rate else None,
        duration_s=duration_arg(duration) if duration else None,
        thresholds=list(threshold or []),
    )
    where = report_dir or Path("reports") / f"load-{datetime.now():%Y%m%d-%H%M%S}"
    run = start(
        profile,
        host=host or stack.gateway_url,
        overrides=overrides,
        seed=seed,
        processes=processes,
        report_dir=where,
        audit=not no_audit,
        stack=stack,
    )
    try:
        result = _follow(run)
    except KeyboardInterrupt:
        err.print("stopping…")
        result = run.stop()
    _print_result(result)
    raise typer.Exit(result.exit_code)


def _stack(state_file: Path | None, host: str | None) -> Any:
    from harness.stack import Stack

    stack = Stack.attach(state_file)
    if stack is not None and stack.running():
        if host is None or host.rstrip("/") == stack.gateway_url:
            return stack
        return None
    if state_file is not None:
        raise UserError(f"no running stack is recorded in {state_file}")
    if host is None:
        raise UserError("no stack is up: start one with `faultline up --detach`, or give --host")
    return None


def _follow(run: LoadRun) -> LoadResult:
    from load.metrics import aggregate

    total = run.profile.duration_s
    printed = 0.0
    with err.status("starting the load generator…") as status:
        while run.running():
            time.sleep(1.0)
            recent = run.recorder.seconds(since=max(0, int(run.elapsed()) - 5))
            reqs = aggregate(recent, "http_reqs").count / max(1, len(recent))
            p95 = aggregate(recent, "http_req_duration").percentile(95)
            failed = aggregate(recent, "http_req_failed").figure("rate")
            dropped = aggregate(run.recorder.seconds(), "dropped_iterations").count
            failing = [v.threshold.source for v in run.live if v.failure is not None]
            line = (
                f"{run.profile.name} {min(run.elapsed(), total):.0f}/{total:.0f}s  "
                f"{reqs:.1f} req/s  p95 {p95 or 0:.0f} ms  failed {100 * (failed or 0):.1f}%  "
                f"dropped {dropped:.0f}" + (f"  [red]✗ {len(failing)}[/]" if failing else "")
            )
            status.update(line)
            # Without a terminal (CI logs) the status line is not drawn: a line every 10 s.
            if not err.is_terminal and run.elapsed() - printed >= PROGRESS_EVERY_S:
                printed = run.elapsed()
                err.print(line)
        status.update("judging and auditing…")
        return run.wait()


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _print_result(result: LoadResult) -> None:
    s = result.summary
    table = Table(title=f"load profile {s['profile']['name']} ({s['elapsed_s']}s, {s['reason']})")
    for column in ("route", "count", "rps", "p50", "p90", "p95", "p99", "max", "failures"):
        table.add_column(column, justify="left" if column == "route" else "right")
    for row in [*s["endpoints"], {"name": "all", **s["totals"]}]:
        table.add_row(
            row["name"],
            str(row["count"]),
            f"{row['rps']:.1f}",
            *(_ms(row[k]) for k in ("p50", "p90", "p95", "p99", "max")),
            f"{row['failures']} ({100 * row['failure_rate']:.1f}%)",
            style="bold" if row["name"] == "all" else None,
        )
    out.print(table)
    for t in s["thresholds"]:
        mark = "[green]✓[/]" if t["ok"] else "[bold red]✗[/]"
        out.print(f"{mark} {t['threshold']}: {t['shown']}", highlight=False)
    for check in s["checks"]:
        if check["fails"]:
            out.print(f"[red]check {check['check']}: {check['fails']} failed[/]")
    if s.get("dropped_iterations"):
        out.print(f"[yellow]dropped iterations: {s['dropped_iterations']}[/]")
    generator = s.get("generator", {})
    for worker, g in generator.get("workers", {}).items():
        state = "[bold red]saturated[/]" if g["saturated"] else "ok"
        out.print(
            f"generator {worker}: cpu mean {g['cpu_mean']:.0f}% max {g['cpu_max']:.0f}%, "
            f"lag max {g['lag_max_ms']:.0f} ms: {state}"
        )
    if "capacity" in s:
        rate = s["capacity"]["sustained_rate"]
        shown = "none held" if rate is None else f"{rate:g} bookings/s"
        out.print(f"capacity (last step that held): [bold]{shown}[/]")
    audit = s.get("audit")
    if audit is not None:
        style = {True: "green", False: "bold red", None: "yellow"}[audit.get("passed")]
        out.print(f"[{style}]{audit['summary']}[/]")
    if result.report_dir is not None:
        out.print(f"reports: {result.report_dir}")
    out.print(f"exit {result.exit_code}: {s['exit_meaning']}")


def _print_profiles(profiles: list[Any]) -> None:
    for p in profiles:
        out.print(
            f"[bold]{p.name}[/]: {p.model} model, peak {p.peak:g} {p.unit}, "
            f"{p.duration_s:g}s: {p.description}"
        )
        for text in p.thresholds:
            out.print(f"    {text}", markup=False)
