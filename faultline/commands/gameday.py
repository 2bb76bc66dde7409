"""Game days: `gameday FILE` runs a scenario live, `recover` heals what a killed run left,
`run` is the campaign CI runs (contracts, fuzz, chaos, load smoke, one game day)."""

from __future__ import annotations

import contextlib
import os
import random
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from faultline.console import err, out
from faultline.options import TopologyOption
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.stack import Stack
    from scenarios.model import Scenario

app = typer.Typer()


class ExportTarget(StrEnum):
    chaos_mesh = "chaos-mesh"
    istio = "istio"


StateFileOption = Annotated[
    Path | None,
    typer.Option(
        "--state-file", help="Run against the stack recorded here (default: `faultline up`'s)."
    ),
]


@contextlib.contextmanager
def _stack_for(scenario: Scenario, state_file: Path | None, topology: Path | None, seed: int):
    """The recorded stack when one runs (it must have the scenario's env), else our own."""
    from harness.stack import Stack
    from harness.state import home

    attached = Stack.attach(state_file) if state_file or not scenario.env else None
    if attached is not None and attached.running():
        _check_env(attached, scenario)
        yield attached
        return
    if state_file is not None:
        raise UserError(f"no running stack is recorded in {state_file}")
    own = home() / "gameday" / f"stack-{os.getpid()}.json"
    err.print(f"starting the suite for the game day{_env_text(scenario.env)}")
    stack = Stack(topology, ports="auto", env=scenario.env, state_file=own, seed=seed)
    with stack:
        yield stack


def _env_text(env: dict[str, str]) -> str:
    return f" with {', '.join(f'{k}={v}' for k, v in env.items())}" if env else ""


def _check_env(stack: Stack, scenario: Scenario) -> None:
    for name in stack.services:
        have = stack.state.services[name].env if stack.state else {}
        wrong = {k: v for k, v in scenario.env.items() if have.get(k, "true") != v}
        if wrong:
            raise UserError(
                f"this scenario needs the suite started{_env_text(scenario.env)}; the running "
                f"one is not (stop it, or let the game day start its own)"
            )


@app.command()
def gameday(
    file: Annotated[Path, typer.Argument(help="The scenario file (YAML).", dir_okay=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the resolved plan; touch nothing.")
    ] = False,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of every random draw (replays a run).")
    ] = None,
    report_dir: Annotated[
        Path | None,
        typer.Option("--report-dir", help="Where the reports go.", file_okay=False),
    ] = None,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Do not serve the live page.")
    ] = False,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            min=0.01,
            max=1.0,
            help="Shrink the run's clock (timeline and duration), e.g. 0.25 for a short run.",
        ),
    ] = 1.0,
    builtin_workload: Annotated[
        bool,
        typer.Option(
            "--builtin-workload",
            help="Drive the built-in booking workload instead of the load layer's profile.",
        ),
    ] = False,
    state_file: StateFileOption = None,
    topology: TopologyOption = None,
    export: Annotated[
        ExportTarget | None,
        typer.Option(
            "--export",
            help="Print the timeline as a cluster's fault engine runs it (Chaos Mesh Workflow, "
            "or Istio VirtualServices for the HTTP faults) as YAML; run nothing.",
        ),
    ] = None,
) -> None:
    """Run a game day: load, a timeline of faults, live view, guaranteed rollback, reports."""
    from harness.topology import load_topology
    from scenarios.loader import load
    from scenarios.runner import GameDay, Options, replay_command

    scenario = load(file, topology=load_topology(topology))
    if export is not None:
        from scenarios.export import render

        text = render(scenario, export.value, load_topology(topology), source=str(file))
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(0)
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 100_000)
    if dry_run:
        _print_plan(scenario.scaled(time_scale), file, seed)
        raise typer.Exit(0)
    from datetime import UTC, datetime

    report_dir = report_dir or Path("reports") / f"gameday-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    replay = replay_command(str(file), seed, time_scale, builtin_workload=builtin_workload)
    from scenarios.live import LiveView

    view = LiveView(err)
    options = Options(
        seed=seed,
        time_scale=time_scale,
        report_dir=report_dir,
        dashboard=not no_dashboard,
        replay=replay,
        source=str(file),
        on_tick=view.update,
        builtin_workload=builtin_workload,
        on_dashboard=lambda url: err.print(f"dashboard: {url}", markup=False),
    )
    with _stack_for(scenario, state_file, topology, seed) as stack:
        err.print(f"game day: {scenario.title} (seed {seed})")
        run = GameDay(scenario, stack, options)
        try:
            code = run.run()
        finally:
            view.close()
    _print_result(run.final, report_dir)
    raise typer.Exit(code)


def _print_plan(scenario: Scenario, file: Path, seed: int) -> None:
    from load.thresholds import parse

    out.print(f"[bold]{scenario.title}[/] ({file}, seed {seed}): {scenario.duration:g}s")
    if scenario.load:
        load = scenario.load
        what = f"rate {load.rate:g}/s" if load.rate else f"{load.users or 'profile'} users"
        out.print(f"load: profile {load.profile}, {what}, {scenario.duration:g}s")
    if scenario.env:
        out.print(f"suite environment: {_env_text(scenario.env).removeprefix(' with ')}")
    table = Table(title="timeline", title_justify="left")
    for column in ("phase", "from", "to", "fault", "target"):
        table.add_column(column)
    for name, start, end in scenario.phases():
        fault, target = "", ""
        if name not in ("before", "after"):
            f = scenario.entry(name).fault
            fault = f.describe()
            target = (
                getattr(f, "edge", None)
                or ", ".join(getattr(f, "edges", []))
                or getattr(f, "service", None)
                or "every rabbitmq edge"
            )
        table.add_row(name, f"{start:g}s", f"{end:g}s", fault, target)
    out.print(table)
    checks = Table(title="expectations", title_justify="left")
    for column in ("phase", "expectation"):
        checks.add_column(column)
    for exp in scenario.expectations:
        for kind in ("threshold", "breaker_opens", "recovers_within", "audit_clean"):
            if kind in type(exp).model_fields:
                text = {
                    "threshold": lambda e: parse(e.threshold).source,
                    "breaker_opens": lambda e: (
                        f"breaker {e.breaker_opens} opens within {e.within:g}s"
                    ),
                    "recovers_within": lambda e: (
                        f"steady state back within "
                        f"{e.recovers_within:g}s of {e.of or 'the last fault'}"
                    ),
                    "audit_clean": lambda e: "audit clean",
                }[kind](exp)
                checks.add_row(exp.phase, text)
    out.print(checks)
    for guard in scenario.safeguards:
        out.print(f"safeguard {guard.name}: abort when {guard.threshold} fails")
    out.print("steady state: " + ", ".join(_probe_text(p) for p in scenario.steady_state.probes))
    out.print("dry run: nothing was touched")


def _probe_text(probe: object) -> str:
    for kind in ("ready", "breakers_closed", "queues_drained", "audit_clean", "threshold"):
        value = getattr(probe, kind, None)
        if value is not None:
            return kind.replace("_", " ") if value is True else f"{kind.replace('_', ' ')} {value}"
    return "?"


def _print_result(journal: dict, report_dir: Path) -> None:
    from scenarios.report import headline

    table = Table(title="expectations", title_justify="left")
    for column in ("phase", "expectation", "verdict", "measured"):
        table.add_column(column)
    for exp in journal["expectations"]:
        verdict = "[green]met[/]" if exp["ok"] else "[bold red]FAILED[/]"
        table.add_row(exp["phase"], exp["name"], verdict, exp.get("detail") or "")
    out.print(table)
    for fault in journal["faults"]:
        recovery = fault["recovery_s"]
        shown = "never" if recovery is None else f"{recovery:.1f} s"
        out.print(f"recovery time of {fault['name']}: {shown}", markup=False)
    for failed in [e for e in journal["expectations"] if not e["ok"]]:
        out.print(f"expectation failed: {failed['name']} ({failed.get('detail')})", markup=False)
    out.print(headline(journal), markup=False)
    out.print(f"report: {report_dir / 'report.html'}", markup=False)
    out.print(f"replay: {journal['replay']}", markup=False)


@app.command()
def recover(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also heal runs whose runner still seems alive, and faults Chaos Toolkit "
            "activities left applied.",
        ),
    ] = False,
    state_file: StateFileOption = None,
) -> None:
    """Heal every fault a game day left applied when it was killed (reads its fault journal)."""
    from scenarios.rollback import recover as heal

    results = heal(force=force, state_file=state_file)
    experiment_faults = _chaostoolkit_faults(state_file)
    if not results and not experiment_faults:
        out.print("nothing to recover: no game day left a fault applied")
        raise typer.Exit(0)
    failed = _recover_chaostoolkit(experiment_faults, state_file, force)
    for result in results:
        if result.skipped:
            out.print(f"{result.scenario}: left alone: {result.skipped}", markup=False)
            continue
        for what in result.healed:
            out.print(f"{result.scenario}: healed {what}", markup=False)
        for problem in result.problems:
            failed = True
            err.print(f"faultline: {result.scenario}: {problem}", markup=False)
    raise typer.Exit(96 if failed else 0)


def _chaostoolkit_faults(state_file: Path | None) -> list[str]:
    """Faults Chaos Toolkit activities injected on the recorded stack and did not heal."""
    from faultline.chaostoolkit.probes import pending_faults
    from faultline.chaostoolkit.target import STATE_FILE_KEY

    config = {STATE_FILE_KEY: str(state_file)} if state_file else None
    try:
        return pending_faults(configuration=config)
    except UserError:  # no stack running: nothing of an experiment can be in force
        return []


def _recover_chaostoolkit(left: list[str], state_file: Path | None, force: bool) -> bool:
    """Heal them with `--force` only: an experiment may be between its activities. True when
    a fault could not be undone."""
    from faultline.chaostoolkit import actions
    from faultline.chaostoolkit.target import STATE_FILE_KEY

    if not left:
        return False
    if not force:
        out.print(
            f"chaos toolkit: {len(left)} fault(s) still applied ({'; '.join(left)}); an "
            "experiment may be running: `faultline recover --force` heals them",
            markup=False,
        )
        return False
    config = {STATE_FILE_KEY: str(state_file)} if state_file else None
    try:
        healed = actions.heal(config)["healed"]
    except UserError as exc:
        err.print(f"faultline: chaos toolkit: {exc}", markup=False)
        return True
    for what in healed:
        out.print(f"chaos toolkit: healed {what}", markup=False)
    return False


@app.command("run")
def run_campaign(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Run only this layer (repeatable): "
            + ", ".join(("contracts", "fuzz", "chaos", "load", "gameday")),
        ),
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option("--skip", help="Skip this layer (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every layer's draws.")] = 1,
    report_root: Annotated[
        Path, typer.Option("--report-dir", help="Reports go to DIR/<timestamp>/.", file_okay=False)
    ] = Path("reports"),
    gameday_scale: Annotated[
        float,
        typer.Option("--gameday-time-scale", min=0.05, max=1.0, help="The game day's clock."),
    ] = 0.5,
) -> None:
    """The campaign CI runs: contracts, fuzz, chaos, load smoke, one game day.

    All against one suite (the running one, or one started for the campaign); writes
    reports/<timestamp>/index.html linking every layer's report; exits 1 if any layer fails.
    """
    from datetime import UTC, datetime

    from harness.stack import Stack
    from harness.state import default_state_file
    from scenarios.campaign import LAYERS, Step, plan, run

    for name in [*(only or []), *(skip or [])]:
        if name not in LAYERS:
            raise UserError(f"unknown layer {name!r} (layers: {', '.join(LAYERS)})")
    layers = [n for n in LAYERS if (not only or n in only) and n not in (skip or [])]
    if not layers:
        raise UserError("--only and --skip leave no layer to run")
    report_dir = report_root / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    state_file = default_state_file()
    stack = Stack.attach(state_file)
    owned = stack is None or not stack.running()
    if owned:
        stack = Stack(ports="auto", state_file=state_file, seed=seed)
        with err.status("starting the suite…"):
            stack.start()
    assert stack is not None
    campaign = plan(report_dir, state_file, seed=seed, layers=layers, gameday_scale=gameday_scale)

    def progress(step: Step) -> None:
        style = "green" if step.ok else "bold red"
        out.print(f"{step.name}: [{style}]{step.verdict}[/] ({step.seconds:.0f}s)")
        if not step.ok:
            err.print(step.tail, markup=False)

    out.print(f"campaign: {', '.join(layers)} (seed {seed}); reports in {report_dir}")
    try:
        run(campaign, dict(os.environ), progress)
    finally:
        if owned:
            with err.status("stopping the suite…"):
                stack.stop()
    table = Table(title="campaign", title_justify="left")
    for column in ("layer", "what", "verdict", "time", "report"):
        table.add_column(column)
    for step in campaign.steps:
        style = None if step.ok else "red"
        table.add_row(
            step.name, step.what, step.verdict, f"{step.seconds:.0f}s", step.report, style=style
        )
    out.print(table)
    out.print(f"index: {report_dir / 'index.html'}", markup=False)
    raise typer.Exit(0 if campaign.ok else 1)
