"""Steady-state probes: is the suite fine right now? Each probe answers with a `ProbeResult`
in Chaos Toolkit's terms (`tolerance`, `tolerance_met`) plus the measured value and a sentence.

Threshold probes read the load's seconds; `since` narrows them to what came after a moment
(a fault's heal, when measuring recovery). Queue probes count what is waiting in the broker,
the outboxes and consumers' hands; while load runs, events are always in transit, so a few
seconds' worth of traffic is tolerated then.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from harness.service_metrics import scrape
from load.metrics import Second
from load.thresholds import evaluate, parse
from scenarios.model import (
    AuditCleanProbe,
    BreakersClosedProbe,
    Probe,
    QueuesDrainedProbe,
    ReadyProbe,
    ThresholdProbe,
)

if TYPE_CHECKING:
    from harness.stack import Stack

DEFAULT_WINDOW_S = 10
MIN_REQUESTS = 5  # a threshold judged on fewer requests than this is not judged yet


@dataclass
class ProbeResult:
    name: str
    kind: str
    tolerance: str
    tolerance_met: bool
    value: Any
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "tolerance": self.tolerance,
            "tolerance_met": self.tolerance_met,
            "value": self.value,
            "detail": self.detail,
        }


def breaker_names(stack: Stack) -> list[str]:
    """Every breaker of the suite: one per HTTP edge, named `caller->downstream`."""
    return [e.proxy_name for e in stack.topology.edges if e.kind == "http"]


def breaker_states(stack: Stack, http: httpx.Client | None = None) -> dict[str, str]:
    """`caller->downstream` -> closed / half-open / open / unknown, one scrape per caller."""
    states: dict[str, str] = {}
    callers = sorted({e.source for e in stack.topology.edges if e.kind == "http"})
    for caller in callers:
        samples = scrape(stack.url(caller), http=http, timeout=1.0)
        for edge in stack.topology.edges_from(caller):
            if edge.kind == "http":
                states[edge.proxy_name] = samples.breaker_state(edge.target)
    return states


class Prober:
    """Runs a scenario's probes against one stack."""

    def __init__(self, stack: Stack, probes: Sequence[Probe], *, load_rate: float = 0.0) -> None:
        self.stack = stack
        self.probes = list(probes)
        self.load_rate = load_rate
        self.http = httpx.Client(timeout=3.0)
        self.audit_baseline: Any = None

    def close(self) -> None:
        self.http.close()

    def check(
        self,
        seconds: Sequence[Second] | None,
        *,
        loaded: bool,
        since: int | None = None,
        audit: bool = False,
        kinds: set[str] | None = None,
    ) -> list[ProbeResult]:
        """Every probe now. `seconds` is the load so far (None: no load, thresholds are not
        judged); `audit` runs the audit probe (slow: it waits for quiet); `kinds` narrows."""
        results = []
        for probe in self.probes:
            kind = _kind(probe)
            if kinds is not None and kind not in kinds:
                continue
            if isinstance(probe, AuditCleanProbe) and not audit:
                continue
            if isinstance(probe, ThresholdProbe) and seconds is None:
                continue
            results.append(self._one(probe, seconds, loaded=loaded, since=since))
        return results

    def _one(
        self, probe: Probe, seconds: Sequence[Second] | None, *, loaded: bool, since: int | None
    ) -> ProbeResult:
        if isinstance(probe, ReadyProbe):
            return self._ready(probe)
        if isinstance(probe, BreakersClosedProbe):
            return self._breakers(probe)
        if isinstance(probe, QueuesDrainedProbe):
            return self._queues(probe, loaded=loaded)
        if isinstance(probe, AuditCleanProbe):
            return self._audit(probe)
        assert isinstance(probe, ThresholdProbe)
        return self._threshold(probe, seconds or [], since)

    def _ready(self, probe: ReadyProbe) -> ProbeResult:
        names = self.stack.services if probe.ready == "all" else list(probe.ready)
        ready, missing = [], []
        for name in names:
            ok = False
            with contextlib.suppress(httpx.HTTPError):
                ok = self.http.get(f"{self.stack.url(name)}/ready").status_code == 200
            (ready if ok else missing).append(name)
        detail = (
            f"{', '.join(ready)} answered /ready 200"
            if not missing
            else (f"not ready: {', '.join(missing)}")
        )
        return ProbeResult(
            probe.name or "every service ready",
            "ready",
            f"{len(names)}/{len(names)} ready",
            not missing,
            len(ready),
            detail,
        )

    def _breakers(self, probe: BreakersClosedProbe) -> ProbeResult:
        states = breaker_states(self.stack, self.http)
        names = list(states) if probe.breakers_closed == "all" else list(probe.breakers_closed)
        not_closed = [f"{n} {states.get(n, 'unknown')}" for n in names if states.get(n) != "closed"]
        return ProbeResult(
            probe.name or "breakers closed",
            "breakers_closed",
            "all closed",
            not not_closed,
            len(not_closed),
            f"{len(not_closed)} of {len(names)} breakers not closed"
            + (f": {', '.join(not_closed)}" if not_closed else ""),
        )

    def _queues(self, probe: QueuesDrainedProbe, *, loaded: bool) -> ProbeResult:
        from harness.audit import activity_stack

        try:
            act = activity_stack(self.stack)
        except Exception as exc:  # a database or the broker away: not drained, say why
            return ProbeResult(
                probe.name or "queues drained",
                "queues_drained",
                "nothing waiting",
                False,
                None,
                f"cannot count: {type(exc).__name__}: {exc}"[:200],
            )
        waiting = act.outbox_backlog + sum(act.queued.values()) + sum(act.delayed.values())
        allowed = max(probe.max_waiting, int(self.load_rate * 5)) if loaded else probe.max_waiting
        return ProbeResult(
            probe.name or "queues drained",
            "queues_drained",
            f"at most {allowed} waiting" if allowed else "nothing waiting",
            waiting <= allowed and not act.unreadable,
            waiting,
            act.describe() if waiting or act.unreadable else "outboxes and queues empty",
        )

    def _audit(self, probe: AuditCleanProbe) -> ProbeResult:
        report = self.audit()
        counts = report.counts()
        bad = sum(counts[k] for k in ("lost", "duplicated", "stuck", "unexpected"))
        return ProbeResult(
            probe.name or "audit clean",
            "audit_clean",
            "0 lost, 0 duplicated, 0 stuck",
            report.passed and report.quiet,
            bad,
            report.summary(),
        )

    def audit(self, *, timeout: float = 60.0) -> Any:
        """The audit since the baseline taken before the run (the stack may be shared)."""
        from harness.audit import audit_stack

        report = audit_stack(self.stack, timeout=timeout)
        if self.audit_baseline is not None:
            report = report.since(self.audit_baseline)
        return report

    def take_audit_baseline(self) -> None:
        from harness.audit import audit_stack

        self.audit_baseline = audit_stack(self.stack, wait=False)

    def _threshold(
        self, probe: ThresholdProbe, seconds: Sequence[Second], since: int | None
    ) -> ProbeResult:
        threshold = parse(probe.threshold)
        window = round(threshold.window_s or DEFAULT_WINDOW_S)
        last = seconds[-1].t if seconds else 0
        chosen = [s for s in seconds if s.t > last - window and (since is None or s.t >= since)]
        evaluation = evaluate(threshold, chosen, min_samples=MIN_REQUESTS)
        if evaluation.ok is None:
            detail = f"too few samples yet ({evaluation.samples})"
        else:
            relation = "holds" if evaluation.ok else "fails"
            detail = f"{evaluation.value:.4g}: {threshold.condition} {relation}"
        return ProbeResult(
            probe.name or threshold.source,
            "threshold",
            threshold.source,
            evaluation.ok is True,
            None if evaluation.value is None else round(evaluation.value, 4),
            detail,
        )


def _kind(probe: Probe) -> str:
    for kind in ("ready", "breakers_closed", "queues_drained", "audit_clean", "threshold"):
        if kind in type(probe).model_fields:
            return kind
    raise ValueError(probe)


def met(results: Sequence[ProbeResult]) -> bool:
    return all(r.tolerance_met for r in results)
