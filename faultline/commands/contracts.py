"""The contract commands: `contracts` (pacts made and verified) and `fuzz` (`st run` against
every service), each run as CI would, with a summary."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from faultline.console import err, out
from faultline.options import ReportDirOption
from harness import extras

app = typer.Typer()
EXTRA = "contracts"


@app.command()
def contracts(
    report_dir: ReportDirOption = Path("reports"),
    publish: Annotated[
        bool,
        typer.Option(
            help="With PACT_BROKER_BASE_URL set: publish the pacts and run can-i-deploy.",
        ),
    ] = True,
) -> None:
    """Consumer pacts for every edge and event, then every provider verified for real.

    Without a broker both run from the files in contracts/pacts/. With PACT_BROKER_BASE_URL
    the pacts are published between the two steps, providers verify what the broker holds
    (and publish their results), and can-i-deploy decides the exit code.
    """
    extras.require(EXTRA, "faultline contracts")
    from contracts.broker import BrokerConfig, broker_commands
    from contracts.campaign import verified_pairs
    from contracts.coverage import missing_contracts
    from contracts.pactfiles import PACT_DIR, load_pacts
    from contracts.provider.verify import RESULTS_ENV
    from harness.topology import load_topology

    report_dir.mkdir(parents=True, exist_ok=True)
    broker = BrokerConfig.from_env() if publish else None
    pacticipants = sorted({p for pair in load_pacts(PACT_DIR) for p in pair})
    started = time.monotonic()
    outcomes: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    with tempfile.TemporaryDirectory(prefix="fl-contracts-") as results_dir:
        env = {**os.environ, RESULTS_ENV: results_dir}
        if broker is None:
            outcomes.append(("contracts", _pytest(report_dir / "contracts.xml", env)))
        else:
            publish_argv, can_i_deploy_argv = broker_commands(broker, pacticipants)
            consumers = _pytest(
                report_dir / "contracts-consumers.xml", env, "consumer", "test_coverage.py"
            )
            outcomes.append(("consumers", consumers))
            if consumers.returncode == 0:
                _run_broker_command(publish_argv)
                providers = _pytest(report_dir / "contracts-providers.xml", env, "provider")
                outcomes.append(("providers", providers))
        verified = verified_pairs(Path(results_dir))
    _print_pacts(load_pacts(PACT_DIR), verified)
    missing = missing_contracts(load_topology())
    for line in missing:
        out.print(f"[red]missing[/red] {line}")
    for name, done in outcomes:
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
        out.print(f"{name}: {summary}")
        if done.returncode != 0:
            err.print(done.stdout[-4000:], markup=False)
    out.print(f"{time.monotonic() - started:.0f}s; JUnit in {report_dir}")
    failed = missing or any(done.returncode != 0 for _, done in outcomes)
    if broker is not None and not failed:
        _run_broker_command(can_i_deploy_argv)
    if failed:
        raise typer.Exit(1)


def _pytest(junit: Path, env: Mapping[str, str], *parts: str) -> subprocess.CompletedProcess[str]:
    from contracts.campaign import run_contract_tests

    with err.status(f"pytest {' '.join(parts) or 'contracts'}…"):
        return run_contract_tests(junit, env, *parts)


def _print_pacts(pacts, verified: dict[tuple[str, str], tuple[int, int]]) -> None:
    table = Table(title="pacts")
    for column in ("consumer", "provider", "interactions", "verified", "failed"):
        table.add_column(column, justify="left" if column in ("consumer", "provider") else "right")
    for (consumer, provider), pact in sorted(pacts.items()):
        ok, failed = verified.get((consumer, provider), (0, 0))
        style = "red" if failed or ok < len(pact.interactions) else None
        table.add_row(
            consumer, provider, str(len(pact.interactions)), str(ok), str(failed), style=style
        )
    out.print(table)


def _run_broker_command(argv: list[str]) -> None:
    from contracts.campaign import run_broker_command

    out.print(f"$ {' '.join(argv)}")
    if run_broker_command(argv) != 0:
        raise typer.Exit(1)


@app.command()
def fuzz(
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help="Fuzz only this service (repeatable)."),
    ] = None,
    max_examples: Annotated[
        int | None,
        typer.Option(
            min=1, help="Cases per operation in the fuzzing phase (default: schemathesis.toml's)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: schemathesis.toml's).")] = None,
    report_dir: ReportDirOption = Path("reports"),
) -> None:
    """`st run <openapi url>` against every service: the verdict a plain `st run` gives.

    Against the stack `faultline up` started, or a new one for the run, from the repository
    root so that `st` reads `schemathesis.toml`.
    """
    extras.require(EXTRA, "faultline fuzz")
    from contracts.fuzzing.command import junit_options, run_st
    from harness.stack import Stack
    from harness.state import home
    from harness.topology import load_topology

    topology = load_topology()
    names = service or list(topology.services)
    for name in names:
        topology.service(name)  # an unknown name is one readable line, before any start-up
    options: list[str] = []
    if max_examples is not None:
        options += ["--max-examples", str(max_examples)]
    if seed is not None:
        options += ["--seed", str(seed)]
    report_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack.attach()
    owned = stack is None or not stack.running()
    if owned:
        stack = Stack(ports="auto", state_file=home() / "fuzz" / f"{os.getpid()}.json")
        with err.status("starting the stack…"):
            stack.start()
    assert stack is not None
    table = Table(title="fuzzing (st run)")
    for column in ("service", "cases", "failures", "warnings", "known", "JUnit"):
        table.add_column(column)
    failed = False
    try:
        for name in names:
            url = (
                stack.gateway_url if name == stack.topology.public_service.name else stack.url(name)
            )
            junit = junit_options(report_dir, name)
            with err.status(f"fuzzing {name}…"):
                run = run_st(name, f"{url}/openapi.json", *options, *junit)
            failed |= not run.ok
            table.add_row(
                name,
                str(run.cases),
                str(len(run.failures)),
                str(len(run.warnings)),
                str(run.known),
                junit[-1],
                style=None if run.ok else "red",
            )
            if not run.ok:
                err.print(run.output[-6000:], markup=False)
    finally:
        if owned:
            with err.status("stopping the stack…"):
                stack.stop()
    out.print(table)
    if failed:
        raise typer.Exit(1)
