"""Running an experiment: faults always healed, the suite's own bookings audited, and any
surprise turned into a broken property with one readable line instead of a stack trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chaos.experiments.result import ExperimentAborted, Result
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults
from harness.audit import audit_stack
from harness.errors import UserError
from harness.suite_client import SuiteError, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

# Small timeouts and quick breakers so that each experiment takes seconds, not minutes.
CHAOS_ENV: dict[str, str] = {
    "SVC_HTTP_TIMEOUT_S": "0.5",
    "SVC_RETRY_ATTEMPTS": "2",
    "SVC_RETRY_BACKOFF_S": "0.02",
    "SVC_BREAKER_THRESHOLD": "3",
    "SVC_BREAKER_RECOVERY_S": "2",
    "SVC_SAGA_BUDGET_S": "0.1",
    "SVC_SAGA_RETRY_BACKOFF_S": "0.05",
    "SVC_SAGA_RETRY_CAP_S": "0.5",
    "SVC_RECOVERY_INTERVAL_S": "0.2",
    "SVC_RECOVERY_IDLE_S": "0.3",
    "SVC_OUTBOX_POLL_S": "0.05",
    "SVC_FACILITIES_CACHE_TTL_S": "0.3",
    "SVC_READY_TIMEOUT_S": "0.5",
    # A failed event comes back within a second of its dependency's return; the budget stays
    # long (10 minutes), as in production, so no outage an experiment makes dead-letters it.
    "SVC_CONSUMER_RETRY_BACKOFF_S": "0.1",
    "SVC_CONSUMER_RETRY_CAP_S": "1.0",
    "SVC_CONSUMER_RETRY_BUDGET_S": "600",
}
TIMEOUT_S = float(CHAOS_ENV["SVC_HTTP_TIMEOUT_S"])
RECOVERY_S = float(CHAOS_ENV["SVC_BREAKER_RECOVERY_S"])
THRESHOLD = int(CHAOS_ENV["SVC_BREAKER_THRESHOLD"])
SETTLE_DEADLINE_S = 20.0

Body = Callable[[Faults, Suite, Result], None]


def run(
    stack: Stack, name: str, mechanism: str, body: Body, *, seed: int = 0, audit_after: bool = True
) -> Result:
    """Run `body` with fresh `Faults` and `Suite`, heal, then audit the bookings it placed."""
    result = Result(name, mechanism)
    result.measure("seed", seed)
    baseline = audit_stack(stack, wait=False) if audit_after else None
    with Suite(stack, seed=seed) as suite:
        faults = Faults(stack, seed=seed)
        try:
            body(faults, suite, result)
        except ExperimentAborted:
            pass  # the property that ended it is already recorded
        except (UserError, RuntimeError, SuiteError) as exc:
            result.expect("experiment ran to the end", False, str(exc).splitlines()[0])
        finally:
            problems = faults.close()
        if problems:
            result.expect("faults healed", False, "; ".join(problems))
        if baseline is not None:
            suite.wait_settled(deadline_s=SETTLE_DEADLINE_S)
            # The whole suite, minus what was already wrong before: a lost event or a leaked
            # slot need not carry this experiment's booking ids to be its doing.
            result.audited(audit_stack(stack, timeout=SETTLE_DEADLINE_S).since(baseline))
    return result


def warm_up(suite: Suite, result: Result, facility_id: str, deadline_s: float = 15.0) -> None:
    """Wait until a booking confirms end to end, so earlier experiments' breakers have closed."""
    ok = wait_until(lambda: _confirmed(suite, facility_id), deadline_s, 0.2)
    if not ok:
        result.expect("healthy before the fault", False, f"no booking confirmed in {deadline_s}s")
        raise ExperimentAborted


def _confirmed(suite: Suite, facility_id: str) -> bool:
    answer = suite.book(facility_id)
    if answer.booking_id is None:
        return False
    final = suite.wait_settled([answer.booking_id], deadline_s=5.0)
    return status_of(final, answer.booking_id) == "confirmed"
