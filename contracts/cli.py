"""`faultline contracts` and `faultline fuzz`: each layer run as CI would, with a summary.

Registered by the root command line (`harness/cli.py`):
    app.command("contracts")(contracts)
    app.command("fuzz")(fuzz)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ReportDir = Annotated[
    Path,
    typer.Option("--report-dir", help="Where the JUnit XML reports are written.", file_okay=False),
]


def contracts(
    report_dir: ReportDir = Path("reports"),
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
    from contracts.broker import BrokerConfig, broker_commands
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
        verified = _verified_pairs(Path(results_dir))
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


def _pytest(junit: Path, env: dict[str, str], *parts: str) -> subprocess.CompletedProcess[str]:
    """The contract tests (all, or those at contracts/<part>), as CI runs them."""
    where = [str(ROOT / "contracts" / part) for part in parts]
    with err.status(f"pytest {' '.join(parts) or 'contracts'}…"):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "contract",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={junit}",
                *(where or [str(ROOT / "contracts")]),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


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


def _verified_pairs(directory: Path) -> dict[tuple[str, str], tuple[int, int]]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for path in directory.glob("*.json"):
        for row in json.loads(path.read_text(encoding="utf-8")):
            counts[(row["consumer"], row["provider"])][0 if row["ok"] else 1] += 1
    return {pair: (ok, failed) for pair, (ok, failed) in counts.items()}


def _run_broker_command(argv: list[str]) -> None:
    from contracts.broker import pact_cli

    if pact_cli() is None:
        raise UserError(
            "PACT_BROKER_BASE_URL is set but the `pact` command line is missing: "
            "`pip install pact-python-cli` (see docs/contracts.md)"
        )
    out.print(f"$ {' '.join(argv)}")
    if subprocess.run(argv, check=False).returncode != 0:
        raise typer.Exit(1)


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
    report_dir: ReportDir = Path("reports"),
) -> None:
    """`st run <openapi url>` against every service of the stack (the one `faultline up`
    started, or a new one for the run), from the repository root so that it reads
    `schemathesis.toml`: the verdict a user gets from a plain `st run`."""
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
