"""Waiting for the suite, with tenacity: until a predicate holds, or until bookings reach a
state. A wait never raises on its deadline: it says how far things got."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from .errors import SuiteError
from .models import Booking

SETTLE_TIMEOUT_S = 20.0
POLL_INTERVAL_S = 0.05


def terminal(booking: Booking) -> bool:
    """The saga reached its outcome (confirmed, rejected, cancelled)."""
    return booking.terminal


def settled(booking: Booking) -> bool:
    """Terminal, and nothing left to do (a cancellation's refund and release are done)."""
    return booking.terminal and booking.settled


def _past(deadline: float) -> Callable[[RetryCallState], bool]:
    return lambda state: time.monotonic() >= deadline


def _last_read(state: RetryCallState) -> Any:
    outcome = state.outcome
    return None if outcome is None or outcome.failed else outcome.result()


def booking_polling(
    done: Callable[[Booking], bool], deadline: float, interval: float = POLL_INTERVAL_S
) -> dict[str, Any]:
    """tenacity arguments: read a booking again (also after a refused or failed read) until
    `done`; at `deadline` (time.monotonic) give the last read, None if it failed."""
    return {
        "retry": retry_if_exception_type(SuiteError) | retry_if_result(lambda b: not done(b)),
        "stop": _past(deadline),
        "wait": wait_fixed(interval),
        "retry_error_callback": _last_read,
    }


def _until_true(timeout: float, interval: float) -> dict[str, Any]:
    return {
        # A refused read (a 503 while the suite recovers) is a "not yet".
        "retry": retry_if_exception_type(SuiteError) | retry_if_result(lambda held: not held),
        "stop": stop_after_delay(timeout),
        "wait": wait_fixed(interval),
        "retry_error_callback": lambda state: False,
    }


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = POLL_INTERVAL_S
) -> bool:
    """Ask `predicate()` until it holds (True) or `timeout` seconds passed (False); a
    `SuiteError` it raises counts as not holding yet."""
    return bool(Retrying(**_until_true(timeout, interval))(predicate))


async def wait_until_async(
    predicate: Callable[[], Awaitable[bool]],
    timeout: float,  # noqa: ASYNC109 (a deadline that answers False, not a cancellation)
    interval: float = POLL_INTERVAL_S,
) -> bool:
    return bool(await AsyncRetrying(**_until_true(timeout, interval))(predicate))
