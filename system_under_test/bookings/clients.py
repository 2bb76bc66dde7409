"""HTTP adapters to facilities and payments: each saga call answers a domain Outcome.

Every call is idempotent by booking id downstream, so all go through `Downstream.request`
with `idempotent=True` (timeout, retries with backoff and jitter, circuit breaker).
"""

from __future__ import annotations

from typing import Any

from system_under_test.common.resilience import Downstream, DownstreamTimeout, DownstreamUnavailable

from .domain import Booking, Outcome


async def _outcome(
    downstream: Downstream,
    method: str,
    path: str,
    json: Any = None,
    *,
    not_found: Outcome = Outcome.NOT_FOUND,
) -> Outcome:
    try:
        response = await downstream.request(method, path, idempotent=True, json=json)
    except DownstreamTimeout:
        return Outcome.TIMEOUT
    except DownstreamUnavailable:
        return Outcome.UNAVAILABLE
    return outcome_of(response.status_code, not_found)


def outcome_of(status: int, not_found: Outcome = Outcome.NOT_FOUND) -> Outcome:
    """What a downstream's answer (below 500) means to the saga."""
    if status < 400:
        return Outcome.OK
    if status == 402:
        return Outcome.DECLINED
    if status == 404:
        return not_found
    # 409 and any other refusal: the downstream answered, and the answer is no.
    return Outcome.CONFLICT


class FacilitiesClient:
    def __init__(self, downstream: Downstream) -> None:
        self.downstream = downstream

    async def reserve(self, booking: Booking) -> Outcome:
        body = {
            "facility_id": str(booking.facility_id),
            "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat(),
        }
        return await _outcome(self.downstream, "PUT", f"/reservations/{booking.id}", body)

    async def confirm(self, booking: Booking) -> Outcome:
        return await _outcome(self.downstream, "POST", f"/reservations/{booking.id}/confirm")

    async def release(self, booking: Booking) -> Outcome:
        # Releasing what was never reserved is already the wanted end state.
        return await _outcome(
            self.downstream, "POST", f"/reservations/{booking.id}/release", not_found=Outcome.OK
        )


class PaymentsClient:
    def __init__(self, downstream: Downstream) -> None:
        self.downstream = downstream

    async def charge(self, booking: Booking) -> Outcome:
        body = {"amount_cents": booking.amount_cents, "payment_method": booking.payment_method}
        return await _outcome(self.downstream, "PUT", f"/charges/{booking.id}", body)

    async def refund(self, booking: Booking) -> Outcome:
        return await _outcome(
            self.downstream, "POST", f"/charges/{booking.id}/refund", not_found=Outcome.OK
        )
