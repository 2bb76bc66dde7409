"""Run Schemathesis's engine (every phase the config enables) and collect what it found.

Each failure is kept with the request that caused it and the response that came back, so a
report names the route, the input and the answer precisely.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.baseline import Baseline
from schemathesis.engine import events, from_schema
from schemathesis.engine.recorder import ScenarioRecorder

import contracts.fuzzing.hooks  # noqa: F401  (registers our checks and generation rules)

ROOT = Path(__file__).resolve().parents[2]
# The repository's settings, which a plain `st run` started at the root reads too.
CONFIG_PATH = ROOT / "schemathesis.toml"
BODY_LIMIT = 600


def load_config() -> schemathesis.Config:
    return schemathesis.Config.from_path(CONFIG_PATH)


def baseline_path(config: schemathesis.Config) -> Path:
    """Failures reported to a service's owner and not fixed yet (the configuration's
    `baseline`, relative to the repository root as `st` resolves it from there)."""
    return ROOT / str(config.projects.default.baseline)


@dataclass
class FuzzFailure:
    operation: str
    check: str
    title: str
    message: str
    request: str
    status: int | None
    response: str

    def __str__(self) -> str:
        return (
            f"{self.operation}: {self.check} - {self.title}\n"
            f"  {self.message.strip()}\n"
            f"  request: {self.request}\n"
            f"  response: {self.status} {self.response}"
        )


@dataclass
class FuzzReport:
    service: str
    cases: int = 0
    by_phase: Counter[str] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    failures: list[FuzzFailure] = field(default_factory=list)
    known: list[FuzzFailure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors

    def summary(self) -> str:
        phases = ", ".join(
            f"{p} {n} in {self.seconds.get(p, 0):.1f}s" for p, n in sorted(self.by_phase.items())
        )
        lines = [
            f"{self.service}: {self.cases} cases over {len(self.operations)} operations "
            f"({phases}); {len(self.failures)} failures, {len(self.errors)} errors, "
            f"{len(self.known)} known (baseline)"
        ]
        lines += [str(f) for f in self.failures[:20]]
        lines += [f"known: {f.operation}: {f.check} - {f.title}" for f in self.known]
        lines += [f"error: {e}" for e in self.errors[:10]]
        return "\n".join(lines)


def _clip(data: Any) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    text = str(data)
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "..."


def _collect(
    report: FuzzReport, phase: str, recorder: ScenarioRecorder, baseline: Baseline
) -> None:
    report.cases += len(recorder.cases)
    report.by_phase[phase] += len(recorder.cases)
    report.operations.add(recorder.label)
    seen: set[tuple[str, str]] = set()
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None or check.status.value != "failure":
                continue
            failure = check.failure_info.failure
            key = (check.name, failure.title)
            if key in seen:  # one example of each distinct failure is enough to act on
                continue
            seen.add(key)
            node = recorder.cases.get(case_id)
            case = node.value if node is not None else None
            response = recorder.find_response(case_id=case_id)
            request = "?"
            if response is not None:
                sent = response.request
                request = f"{sent.method} {sent.url} {_clip(sent.body)}".strip()
            elif case is not None:
                request = f"{case.method} {case.formatted_path} {_clip(case.body)}"
            found = (
                report.known if baseline.match(failure, check.name) is not None else report.failures
            )
            found.append(
                FuzzFailure(
                    operation=recorder.label,
                    check=check.name,
                    title=failure.title,
                    message=failure.message,
                    request=request,
                    status=response.status_code if response is not None else None,
                    response=_clip(response.content) if response is not None else "",
                )
            )


def fuzz(schema: Any, service: str, baseline: Path | None = None) -> FuzzReport:
    """Run every enabled phase against `schema` (loaded with `from_asgi` or `from_url`)."""
    known = Baseline.load(baseline or baseline_path(load_config()))
    report = FuzzReport(service)
    started: dict[str, float] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseStarted):
            started[event.phase.name.value] = event.timestamp
        elif isinstance(event, events.PhaseFinished) and event.phase.name.value in started:
            report.seconds[event.phase.name.value] = (
                event.timestamp - started[event.phase.name.value]
            )
        elif isinstance(event, events.ScenarioFinished):
            _collect(report, event.phase.value, event.recorder, known)
        elif isinstance(event, events.NonFatalError):
            report.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {event.exception}")
    return report
