"""What a load run's exit code says, and how it is decided (docs/load.md, "Exit codes")."""

from __future__ import annotations

OK = 0  # every threshold held and the audit is clean
AUDIT = 1  # the audit found something lost, duplicated or stuck
USAGE = 2  # usage or configuration error
INCONCLUSIVE = 98  # a threshold failed while the load generator was saturated
THRESHOLD = 99  # a threshold failed (as k6)

MEANINGS = {
    OK: "every threshold held and the audit is clean",
    AUDIT: "the audit found something lost, duplicated or stuck",
    USAGE: "usage or configuration error",
    INCONCLUSIVE: "inconclusive: a threshold failed while the load generator was saturated",
    THRESHOLD: "a threshold failed",
}


def of_thresholds(passed: bool, saturated: bool) -> int:
    """The load generator's verdict. A busy generator only makes figures worse (latency is
    timed from the intended start), so it matters only when a threshold failed."""
    if passed:
        return OK
    return INCONCLUSIVE if saturated else THRESHOLD


def with_audit(code: int, audit_passed: bool | None) -> int:
    """A loss found by the audit outranks every threshold; no audit (None) changes nothing."""
    return AUDIT if audit_passed is False and code != USAGE else code
