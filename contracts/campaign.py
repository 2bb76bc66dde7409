"""The contract layer run as CI runs it: the contract tests under pytest (JUnit reports), what
providers verified per consumer and provider pair, and the pact broker's command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from contracts.broker import pact_cli
from harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def run_contract_tests(
    junit: Path, env: Mapping[str, str], *parts: str
) -> subprocess.CompletedProcess[str]:
    """The contract tests (all, or those at contracts/<part>), as CI runs them."""
    where = [str(ROOT / "contracts" / part) for part in parts] or [str(ROOT / "contracts")]
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
            *where,
        ],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )


def verified_pairs(directory: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(consumer, provider) -> (interactions verified, interactions failed), from the result
    files provider verification wrote into `directory`."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for path in directory.glob("*.json"):
        for row in json.loads(path.read_text(encoding="utf-8")):
            counts[(row["consumer"], row["provider"])][0 if row["ok"] else 1] += 1
    return {pair: (ok, failed) for pair, (ok, failed) in counts.items()}


def run_broker_command(argv: list[str]) -> int:
    """Run a `pact broker …` command line; its exit code."""
    if pact_cli() is None:
        raise UserError(
            "PACT_BROKER_BASE_URL is set but the `pact` command line is missing: "
            "`pip install pact-python-cli` (see docs/contracts.md)"
        )
    return subprocess.run(argv, check=False).returncode
