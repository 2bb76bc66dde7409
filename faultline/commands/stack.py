"""The stack commands: `up`, `down`, `status`, `demo`, `compose`."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from faultline.console import err, out, report_problems
from faultline.options import EnvOption, TopologyOption
from harness import extras
from harness.assignments import parse_assignments
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.stack import Stack

app = typer.Typer()


class PortPolicy(StrEnum):
    topology = "topology"
    auto = "auto"


class Backend(StrEnum):
    local = "local"
    testcontainers = "testcontainers"


def _print_stack(stack: Stack) -> None:
    services = Table(title=f"services (run {stack.run_id})", title_justify="left")
    for column in ("service", "url", "pid", "database"):
        services.add_column(column)
    for name in stack.services:
        svc = stack.state.services[name] if stack.state else None
        if svc:
            services.add_row(name, svc.url, str(svc.pid), svc.database or "-")
    proxies = Table(title=f"proxies ({stack.toxiproxy_url})", title_justify="left")
    for column in ("proxy", "listen", "upstream"):
        proxies.add_column(column)
    for proxy in stack.state.proxies.values() if stack.state else []:
        proxies.add_row(proxy.name, proxy.listen, proxy.upstream)
    out.print(services)
    out.print(proxies)


@app.command()
def up(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Return once ready; leave the stack running.")
    ] = False,
    topology: TopologyOption = None,
    ports: Annotated[
        PortPolicy,
        typer.Option(help="Service ports: the topology's, or free ones picked at start."),
    ] = PortPolicy.topology,
    env: EnvOption = None,
    backend: Annotated[
        Backend,
        typer.Option(help="PostgreSQL, RabbitMQ, Toxiproxy: on loopback, or in containers."),
    ] = Backend.local,
) -> None:
    """Start the suite: proxy server, one proxy per edge, every service; wait until ready."""
    from harness.containers import backing_servers
    from harness.stack import Stack
    from harness.topology import load_topology

    if backend is Backend.testcontainers:
        extras.require("containers", "faultline up --backend testcontainers")
    topo = load_topology(topology)
    with backing_servers(backend.value, topo, detach=detach):
        stack = Stack(topo, ports=ports.value, env=parse_assignments(env, "--env"))
        with err.status("starting the stack…"):
            stack.start()
        _print_stack(stack)
        out.print(
            f"ready in {stack.startup_seconds:.1f}s. gateway: [bold]{stack.gateway_url}[/bold] "
            f"(token: POST {stack.gateway_url}/api/auth/token with demo/demo)"
        )
        if detach:
            out.print("running in the background; stop it with `faultline down`")
            return
        _wait_for_interrupt(stack)


def _wait_for_interrupt(stack: Stack) -> None:
    from harness import processes
    from harness.state import read_state

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    out.print("press Ctrl-C to stop")
    reported: set[str] = set()
    while not stop.wait(1.0):
        # Re-read: `faultline down` or a restart by a chaos run may have happened elsewhere.
        current = read_state(stack.state_file)
        if current is None or current.run_id != stack.run_id or current.stopping:
            out.print("the stack was stopped from elsewhere")
            return
        stack.state = current
        for name in stack.services:
            if name not in reported and not processes.alive(stack.pid(name)):
                reported.add(name)
                err.print(
                    f"faultline: service {name} exited; see {stack.log_path(name)}", markup=False
                )
    with err.status("stopping the stack…"):
        problems = stack.stop()
    report_problems(problems)
    out.print("stopped")


@app.command()
def down(
    all_runs: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also remove what runs that are no longer alive left on PostgreSQL and "
            "RabbitMQ (from any checkout), and stop this checkout's stacks whose owner died. "
            "Live runs are never touched.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="With --all: list each run and the verdict; remove nothing."
        ),
    ] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0.0,
            metavar="SECONDS",
            help="With --all: a run whose databases are younger than this counts as alive.",
        ),
    ] = 300.0,
    topology: TopologyOption = None,
) -> None:
    """Stop the stack `faultline up` started and drop its databases and broker objects."""
    from harness.containers import remove_recorded
    from harness.stack import Stack
    from harness.state import default_state_file

    if dry_run and not all_runs:
        raise UserError("--dry-run goes with --all")
    problems: list[str] = []
    stack = None if dry_run else Stack.attach()
    if stack is not None:
        run_id, count = stack.run_id, len(stack.services)
        with err.status("stopping the stack…"):
            problems = stack.stop()
        report_problems(problems)
        out.print(f"stopped run {run_id}: {count} services, proxies, databases and queues removed")
    elif not all_runs:
        out.print(f"no stack is running (nothing recorded in {default_state_file()})")
    # After the stack: it drops its databases on those containers first.
    if not dry_run and (removed := remove_recorded()):
        out.print(f"removed {removed} containers of `faultline up --backend testcontainers`")
    if all_runs:
        problems += _sweep(topology, dry_run=dry_run, grace=grace)
    if problems:
        raise typer.Exit(1)


def _sweep(topology: Path | None, *, dry_run: bool, grace: float) -> list[str]:
    from harness import infra
    from harness import sweep as sweep_mod
    from harness.topology import load_topology

    topo = load_topology(topology)
    infra.check_postgres(topo.postgres, topo.postgres.url())
    infra.check_rabbitmq(topo.rabbitmq, topo.rabbitmq.url())
    with err.status("looking for leftovers of dead runs…"):
        report = sweep_mod.sweep(topo, dry_run=dry_run, grace_s=grace)
    problems: list[str] = []
    for orphan in report.orphans:
        verb = "would stop" if dry_run else "stopped"
        out.print(
            f"{verb} orphaned stack {orphan.namespace} (its owner, pid {orphan.owner_pid}, is "
            f"gone; recorded in {orphan.state_file})",
            markup=False,
        )
        problems += orphan.problems
    for run in report.runs:
        out.print(run.describe(), markup=False)
        problems += [f"{run.namespace}: could not remove {what}" for what in run.left]
    out.print(report.summary())
    report_problems(problems)
    return problems


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show services and readiness, proxies and their toxics, circuit breaker states."""
    from harness import status as status_mod
    from harness.stack import Stack
    from harness.state import default_state_file

    stack = Stack.attach()
    if stack is None or not stack.running():
        if as_json:
            print(json.dumps({"toxiproxy_url": None, "services": [], "proxies": []}))
        elif stack is None:
            out.print(f"no stack is running (nothing recorded in {default_state_file()})")
        else:
            out.print(
                f"no stack is running: run {stack.run_id} is recorded but its services are "
                "gone; `faultline down` removes what it left"
            )
        raise typer.Exit(1)
    report = status_mod.collect(stack)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    services = Table(title=f"services (run {report.run_id})", title_justify="left")
    for column in ("service", "url", "ready", "breakers"):
        services.add_column(column)
    for s in report.services:
        breakers = ", ".join(f"{k}: {v}" for k, v in sorted(s.breakers.items())) or "-"
        ready = "[green]ready[/green]" if s.ready else "[red]not ready[/red]"
        services.add_row(s.name, s.url, ready, breakers)
    out.print(services)
    kind = "embedded" if report.toxiproxy_embedded else "external"
    proxies = Table(title=f"proxies ({kind}, {report.toxiproxy_url})", title_justify="left")
    for column in ("proxy", "listen", "upstream", "enabled", "toxics"):
        proxies.add_column(column)
    for p in report.proxies:
        toxics = ", ".join(f"{t.get('name')} ({t.get('type')})" for t in p.get("toxics") or [])
        proxies.add_row(
            str(p.get("name")),
            str(p.get("listen")),
            str(p.get("upstream")),
            "yes" if p.get("enabled") else "[red]no[/red]",
            toxics or "-",
        )
    out.print(proxies)
    if report.proxy_error:
        err.print(f"faultline: {report.proxy_error}", markup=False)


@app.command()
def demo(topology: TopologyOption = None, env: EnvOption = None) -> None:
    """Bring the suite up on free ports, run a booking flow through the gateway, tear down."""
    from harness.booking_flow import BookingFlow
    from harness.stack import Stack
    from harness.state import home

    t0 = time.monotonic()
    # Its own state file: a demo never collides with `faultline up` or another demo.
    state_file = home() / "demo" / f"{os.getpid()}.json"
    env_vars = parse_assignments(env, "--env")
    stack = Stack(topology, ports="auto", env=env_vars, state_file=state_file)
    with err.status("starting the stack…"):
        stack.start()
    results = []
    try:
        out.print(
            f"stack ready in {stack.startup_seconds:.1f}s "
            f"({len(stack.services)} services, gateway {stack.gateway_url})"
        )
        flow = BookingFlow(stack.gateway_url, stack.url("notifications"))
        try:
            for step in flow.run():
                mark = "[green]PASS[/green]" if step.ok else "[red]FAIL[/red]"
                out.print(f"{mark} {step.name}: {step.detail}")
                results.append(step.ok)
        finally:
            flow.close()
    finally:
        with err.status("stopping the stack…"):
            problems = stack.stop()
        report_problems(problems)
    passed = sum(results)
    ok = bool(results) and all(results) and len(results) == len(flow.steps())
    verdict = "[green]all steps passed[/green]" if ok else "[red]some steps failed[/red]"
    out.print(f"{verdict}: {passed}/{len(flow.steps())} in {time.monotonic() - t0:.1f}s")
    if not ok:
        raise typer.Exit(1)


@app.command()
def compose(
    topology: TopologyOption = None,
    output_dir: Annotated[
        Path, typer.Option("--output-dir", file_okay=False, help="Where to write the files.")
    ] = Path("."),
    check: Annotated[
        bool, typer.Option("--check", help="Only report whether the files are up to date.")
    ] = False,
) -> None:
    """Generate docker-compose.yml and toxiproxy.json from the topology."""
    from harness import compose as compose_mod
    from harness.topology import load_topology

    topo = load_topology(topology)
    if check:
        stale = compose_mod.stale(topo, output_dir)
        if stale:
            err.print(f"faultline: out of date: {', '.join(stale)}; run `faultline compose`")
            raise typer.Exit(1)
        out.print("docker-compose.yml and toxiproxy.json match the topology")
        return
    if not output_dir.is_dir():
        raise UserError(f"output directory {output_dir} does not exist")
    for path in compose_mod.write(topo, output_dir):
        out.print(f"wrote {path}")
