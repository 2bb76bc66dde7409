"""The `st` command line (Schemathesis) against a running service, as a user would run it:
same configuration file, same checks and generation rules, a JUnit report per service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx

from contracts.fuzzing.rules import REFERENCE_ENV
from contracts.fuzzing.runner import BASELINE_PATH, CONFIG_PATH

_CASES = re.compile(r"Test cases:\s*\n\s*(\d+) generated")


@dataclass
class StRun:
    service: str
    returncode: int
    cases: int
    tests: int
    failures: int
    known: int
    junit: Path
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failures == 0 and self.tests > 0


def st_executable() -> list[str]:
    beside = Path(sys.executable).with_name("st")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("st")
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def st_argv(
    openapi_url: str,
    junit: Path,
    *,
    headers: dict[str, str] | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
) -> list[str]:
    argv = [
        *st_executable(),
        "--config-file",
        str(CONFIG_PATH),
        "--no-color",
        "run",
        openapi_url,
        "--baseline",
        str(BASELINE_PATH),
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    for name, value in (headers or {}).items():
        argv += ["--header", f"{name}: {value}"]
    if max_examples is not None:
        argv += ["--max-examples", str(max_examples)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return argv


def _junit_counts(path: Path) -> tuple[int, int]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 0
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    return tests, failed


def run_st(
    service: str,
    openapi_url: str,
    report_dir: Path,
    *,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    max_examples: int | None = None,
    seed: int | None = None,
    timeout: float = 600,
) -> StRun:
    report_dir.mkdir(parents=True, exist_ok=True)
    junit = report_dir / f"fuzz-{service}.xml"
    argv = st_argv(openapi_url, junit, headers=headers, max_examples=max_examples, seed=seed)
    done = subprocess.run(
        argv,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    tests, failed = _junit_counts(junit)
    cases = int(m.group(1)) if (m := _CASES.search(output)) else 0
    known = re.search(r"Known failures:\s*(\d+)", output)
    return StRun(
        service=service,
        returncode=done.returncode,
        cases=cases,
        tests=tests,
        failures=failed,
        known=int(known.group(1)) if known else 0,
        junit=junit,
        output=output,
    )


def gateway_references(gateway_url: str, token: str) -> dict[str, str]:
    """A user and a facility made through the gateway, for bookings the fuzzer places."""
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway_url, headers=auth, timeout=15) as client:
        user = client.post(
            "/api/users",
            json={"email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com", "name": "Fuzz Family"},
        )
        facility = client.post("/api/facilities", json={"name": "Fuzz Chapel", "capacity": 50})
    user.raise_for_status()
    facility.raise_for_status()
    return {
        REFERENCE_ENV["user_id"]: user.json()["id"],
        REFERENCE_ENV["facility_id"]: facility.json()["id"],
    }
