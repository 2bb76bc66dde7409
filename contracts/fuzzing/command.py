"""The `st` command line (Schemathesis) against a running service, as a user runs it: `st run
<openapi url>` from the repository root, where it finds `schemathesis.toml` (seed, phases,
checks, hooks, the gateway's token, the statuses expected on business rules)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from contracts.fuzzing.runner import CONFIG_PATH, ROOT
from harness.errors import UserError

_FINAL = re.compile(r"^=+ (.+?) in [\d.]+s =+$", re.M)
_CASES = re.compile(r"^\s*(\d+) generated", re.M)
_KNOWN = re.compile(r"Known failures:\s*(\d+)")


@dataclass
class StRun:
    service: str
    argv: list[str]
    returncode: int
    output: str
    verdict: str = ""
    cases: int = 0
    known: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exit 0, no failure, no warning, and some cases run."""
        return (
            self.returncode == 0
            and self.verdict.startswith("No issues found")
            and not self.failures
            and not self.warnings
            and self.cases > 0
        )


def st_executable() -> list[str]:
    beside = Path(sys.executable).with_name("st")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def st_argv(openapi_url: str, *options: str) -> list[str]:
    """`st run <url>`, plus options a user may add (`--seed 7`, a report)."""
    return [*st_executable(), "run", openapi_url, *options]


def _summary_items(output: str, heading: str) -> list[str]:
    """The lines listed under `heading:` in the run's summary (failures, warnings)."""
    summary = output.rsplit("SUMMARY", 1)[-1]
    items: list[str] = []
    lines = iter(summary.splitlines())
    for line in lines:
        if line.strip() == f"{heading}:":
            for item in lines:
                if not item.strip():
                    break
                items.append(item.strip())
    return items


def parse_output(run: StRun) -> StRun:
    finals = _FINAL.findall(run.output)
    run.verdict = finals[-1].strip() if finals else ""
    cases = _CASES.findall(run.output)
    run.cases = int(cases[-1]) if cases else 0
    known = _KNOWN.search(run.output)
    run.known = int(known.group(1)) if known else 0
    run.failures = _summary_items(run.output, "Failures")
    run.warnings = _summary_items(run.output, "Warnings")
    return run


def run_st(
    service: str,
    openapi_url: str,
    *options: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 900,
) -> StRun:
    """`st run` from the repository root, the way the README tells a user to."""
    if not CONFIG_PATH.exists():
        raise UserError(f"{CONFIG_PATH} is missing: fuzzing runs from a checkout of faultline")
    argv = st_argv(openapi_url, *options)
    done = subprocess.run(
        argv,
        cwd=ROOT,
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return parse_output(StRun(service, argv, done.returncode, done.stdout + done.stderr))


def junit_options(report_dir: Path, service: str) -> Sequence[str]:
    return [
        "--report",
        "junit",
        "--report-junit-path",
        str((report_dir / f"fuzz-{service}.xml").resolve()),
    ]
