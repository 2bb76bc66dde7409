"""The audit reads the final state only once the suite has provably gone quiet. (That an audit
run while an event waits out its backoff says "not quiet" and calls nothing lost is a property
of the consumer-database-outage experiment, checked with delay queues on and off.)"""

from __future__ import annotations

from typing import Any

import pytest

from chaos.faults import Faults
from harness.audit import audit_stack, wait_quiet_stack

pytestmark = pytest.mark.chaos

CONSUMER = "notifications"


def test_a_consumer_whose_metrics_cannot_be_read_means_not_quiet(
    chaos_stack: Any, chaos_seed: int
) -> None:
    assert wait_quiet_stack(chaos_stack, timeout=30.0)
    with Faults(chaos_stack, seed=chaos_seed) as faults, faults.paused(CONSUMER):
        # Paused, it may hold deliveries nobody can count: never reported quiet.
        report = audit_stack(chaos_stack, timeout=1.0)

    assert not report.quiet and not report.passed
    assert report.summary().startswith("audit NOT QUIET")
    (finding,) = report.check("quiet").findings
    assert (finding.subject, finding.kind) == (CONSUMER, "stuck")
    assert finding.detail.startswith("still moving: cannot tell what it is handling")
    assert wait_quiet_stack(chaos_stack, timeout=30.0)
