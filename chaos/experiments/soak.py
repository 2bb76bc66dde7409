"""`make soak`: the chaos layer again and again, one pytest session per `FAULTLINE_SEED`, with the
soak-only experiments included; prints how many seeds each test passed.

    python -m chaos.experiments.soak --seeds 20 --first 1 --select consumer

A test is flaky if it fails for any seed; the figure that matters is "passed for N seeds in a
row". Each session starts its own stacks, as `make test` would, and is replayed alone with
`FAULTLINE_SEED=<seed> FAULTLINE_SOAK=1 pytest -m chaos chaos/experiments -k <select>`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaos.experiments.catalog import SOAK_ENV
from chaos.faults.fixtures import SEED_ENV

out = Console(highlight=False, soft_wrap=True)
HERE = Path(__file__).parent


def _outcomes(junit: Path) -> dict[str, bool]:
    """Test id -> passed, from a pytest JUnit report (a missing report: nothing ran)."""
    if not junit.exists():
        return {}
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "?")
        if case.find("skipped") is not None:
            continue
        results[name] = case.find("failure") is None and case.find("error") is None
    return results


def _session(seed: int, select: str, junit: Path) -> tuple[int, float]:
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "chaos",
        str(HERE),
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    argv += ["--junitxml", str(junit)] + (["-k", select] if select else [])
    env = {**os.environ, SEED_ENV: str(seed), SOAK_ENV: "1"}
    t0 = time.monotonic()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode not in (0, 1):  # 1: some test failed; anything else: pytest itself did
        out.print(done.stdout[-3000:], markup=False)
    return done.returncode, time.monotonic() - t0


def _longest_run(passes: list[bool]) -> int:
    best = current = 0
    for ok in passes:
        current = current + 1 if ok else 0
        best = max(best, current)
    return best


def main(
    seeds: Annotated[int, typer.Option(min=1, help="How many seeds (sessions) to run.")] = 20,
    first: Annotated[int, typer.Option(help="The first seed; the others follow it.")] = 1,
    select: Annotated[
        str, typer.Option(help="pytest -k expression; empty runs the whole chaos layer.")
    ] = "consumer",
) -> None:
    """Repeat the chaos layer over several seeds and print each test's pass count."""
    history: dict[str, list[bool]] = defaultdict(list)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="faultline-soak-") as tmp:
        for seed in range(first, first + seeds):
            junit = Path(tmp) / f"seed-{seed}.xml"
            code, seconds = _session(seed, select, junit)
            outcomes = _outcomes(junit)
            for name, ok in outcomes.items():
                history[name].append(ok)
            failed = sorted(n for n, ok in outcomes.items() if not ok)
            failures += [f"{SEED_ENV}={seed}: {n}" for n in failed]
            verdict = "[green]pass[/]" if code == 0 and outcomes else "[red]FAIL[/]"
            detail = escape(f"; failed: {', '.join(failed)}") if failed else ""
            out.print(f"seed {seed}: {verdict} ({len(outcomes)} tests, {seconds:.0f}s){detail}")
    title = escape(f"soak: {seeds} seeds from {first}, -k {select!r}")
    table = Table(title=title, title_justify="left")
    table.add_column("test", overflow="fold")  # whole test ids, even on a narrow terminal
    for column in ("passed", "longest run of passes"):
        table.add_column(column, justify="right")
    for name, passes in sorted(history.items()):
        style = None if all(passes) else "red"
        table.add_row(
            escape(name), f"{sum(passes)}/{len(passes)}", str(_longest_run(passes)), style=style
        )
    out.print(table)
    for failure in failures:
        out.print(f"replay: {failure}", markup=False)
    clean = bool(history) and not failures and all(len(p) == seeds for p in history.values())
    out.print(
        f"{'all passed' if clean else 'NOT all passed'}: "
        f"{sum(all(p) and len(p) == seeds for p in history.values())} of {len(history)} tests "
        f"passed for all {seeds} seeds"
    )
    raise typer.Exit(0 if clean else 1)


if __name__ == "__main__":
    typer.run(main)
