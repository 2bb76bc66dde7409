"""Chaos Toolkit probes: the audit, circuit-breaker states, load thresholds.

Yes/no probes (`audit_clean`, `breakers_closed`, `thresholds_hold`) return a bool, for a
steady-state hypothesis with `"tolerance": true`; the others return the details, which the
journal keeps as the probe's output.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from faultline.chaostoolkit.burst import Traffic, judge, run_burst, thresholds_of
from faultline.chaostoolkit.target import attach
from harness import polling
from harness.audit import audit_stack
from harness.service_metrics import scrape
from harness.stack import Stack

log = logging.getLogger("chaostoolkit")  # Chaos Toolkit's own logger: lines land in its log

Configuration = Mapping[str, Any] | None


# -- the audit -------------------------------------------------------------------------------


def audit_report(timeout: float = 30.0, configuration: Configuration = None) -> dict[str, Any]:
    """The audit (nothing lost, duplicated or stuck) after waiting up to `timeout` seconds for
    the suite to go quiet, as data: `passed`, `quiet`, counts, each check's findings."""
    return audit_stack(attach(configuration), timeout=timeout).to_dict()


def audit_clean(timeout: float = 30.0, configuration: Configuration = None) -> bool:
    """True when the audit finds nothing lost, duplicated or stuck."""
    report = audit_stack(attach(configuration), timeout=timeout)
    if not report.passed:
        for finding in report.violations[:20]:
            log.warning("audit: %s", finding)
    log.info("audit: %s", report.summary())
    return report.passed


# -- faults in force -------------------------------------------------------------------------


def pending_faults(configuration: Configuration = None) -> list[str]:
    """The faults `inject` applied that no `heal` has undone yet (from the fault journal)."""
    from chaos.faults import FaultJournal
    from faultline.chaostoolkit.target import journal_path

    stack = attach(configuration)
    return [p.what for p in FaultJournal(journal_path(stack, configuration)).pending()]


# -- circuit breakers ------------------------------------------------------------------------


def _states(stack: Stack, services: Sequence[str]) -> dict[str, dict[str, str]]:
    states: dict[str, dict[str, str]] = {}
    for name in services:
        samples = scrape(stack.url(name))
        states[name] = samples.breaker_states() if samples.ok else {"*": "unknown"}
    return states


def breaker_states(
    service: str | None = None, configuration: Configuration = None
) -> dict[str, dict[str, str]]:
    """Service -> downstream -> breaker state (closed, half-open, open), read from each
    service's /metrics; a service whose /metrics cannot be read shows `{"*": "unknown"}`."""
    stack = attach(configuration)
    return _states(stack, [service] if service else stack.services)


def breaker_state(
    service: str,
    downstream: str,
    wait_for: str | None = None,
    within_s: float = 0.0,
    configuration: Configuration = None,
) -> str:
    """The state of `service`'s breaker in front of `downstream`; with `wait_for`, polls up to
    `within_s` seconds for that state and returns the last one seen."""
    stack = attach(configuration)
    seen = ["unknown"]

    def reached() -> bool:
        seen[0] = scrape(stack.url(service)).breaker_state(downstream)
        return wait_for is None or seen[0] == wait_for

    polling.until(reached, within=max(within_s, 0.0), interval=0.25)
    return seen[0]


def breakers_closed(
    service: str | None = None, within_s: float = 0.0, configuration: Configuration = None
) -> bool:
    """True when every breaker (of `service`, or of every service) is closed, waiting up to
    `within_s` seconds for it. An unreadable /metrics is not closed: it cannot be known."""
    stack = attach(configuration)
    names = [service] if service else stack.services
    last: dict[str, dict[str, str]] = {}

    def closed() -> bool:
        last.update(_states(stack, names))
        return all(s == "closed" for states in last.values() for s in states.values())

    if polling.until(closed, within=max(within_s, 0.0), interval=0.25):
        return True
    not_closed = {
        f"{svc}->{down}": state
        for svc, states in last.items()
        for down, state in states.items()
        if state != "closed"
    }
    log.warning("breakers not closed: %s", not_closed)
    return False


# -- load thresholds -------------------------------------------------------------------------


def load_burst(
    thresholds: str | list[str],
    traffic: Traffic = "book",
    duration_s: float = 5.0,
    workers: int = 4,
    configuration: Configuration = None,
) -> dict[str, Any]:
    """Send a short burst of real traffic through the gateway (`book`: bookings on fresh
    slots; `browse`: the facility list) and judge each threshold, in the load layer's grammar,
    over the whole burst: `{"passed", "requests", "outcomes" (bookings by the status their
    POST answered), "thresholds": [{source, value, samples, ok}]}`."""
    parsed = thresholds_of(thresholds)  # a bad expression fails before any traffic
    burst = run_burst(attach(configuration), traffic, duration_s=duration_s, workers=workers)
    judged = judge(parsed, burst.recorder)
    for item in judged:
        shown = "no samples" if item.value is None else f"{item.value:.4g}"
        log.info("threshold %s: %s (%s)", item.source, shown, "ok" if item.ok else "failed")
    return {
        "passed": all(item.ok for item in judged),
        "requests": burst.requests,
        "outcomes": dict(burst.outcomes),
        "thresholds": [asdict(item) for item in judged],
    }


def thresholds_hold(
    thresholds: str | list[str],
    traffic: Traffic = "book",
    duration_s: float = 5.0,
    workers: int = 4,
    configuration: Configuration = None,
) -> bool:
    """`load_burst`'s verdict alone: True when every threshold held."""
    return bool(load_burst(thresholds, traffic, duration_s, workers, configuration)["passed"])
