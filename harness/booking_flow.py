"""The booking flow `faultline demo` runs through the gateway, one checked step at a time.

Each step says what a user would see: a confirmed booking, a conflict rejected, a decline
compensated (the slot is free again), a cancellation refunded and released, notifications sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.suite_client import (
    DECLINED_CARD,
    GOOD_CARD,
    SETTLE_TIMEOUT_S,
    Booking,
    Slot,
    SuiteClient,
    SuiteError,
    wait_until,
)


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str


class FlowError(Exception):
    """A step's outcome differs from what the flow expects."""


class BookingFlow:
    """Runs against a gateway (and notifications, to see what was sent) already up."""

    def __init__(self, gateway_url: str, notifications_url: str | None = None) -> None:
        self.gateway_url = gateway_url
        self.client = SuiteClient.public(gateway_url)
        # Until the gateway serves notifications, they are read from the service itself.
        self.notifications = (
            SuiteClient.direct({"notifications": notifications_url})
            if notifications_url
            else self.client
        )
        self.ids: dict[str, str] = {}
        self.first = self.client.slots.take()
        self.second = self.client.slots.take()

    def close(self) -> None:
        self.client.close()
        self.notifications.close()

    def book(self, slot: Slot, payment_method: str = GOOD_CARD) -> Booking:
        booking = self.client.book(
            self.ids["user"], self.ids["facility"], slot, payment_method=payment_method
        )
        return self.settled(booking)

    def settled(self, booking: Booking) -> Booking:
        return self.client.wait_settled([booking.id], SETTLE_TIMEOUT_S).get(booking.id, booking)

    def reserved_ids(self, slot: Slot) -> set[str]:
        return self.client.availability(self.ids["facility"], slot.day).booking_ids

    # -- the steps ---------------------------------------------------------------------------

    def token(self) -> str:
        self.client.login("demo", "demo")
        return "bearer token for demo/demo"

    def user(self) -> str:
        user = self.client.create_user(name="The Smith family")
        self.ids["user"] = user.id
        return f"user {user.id} ({user.email})"

    def facility(self) -> str:
        self.ids["facility"] = self.client.create_facility("Chapel of Rest", 80).id
        return f"facility {self.ids['facility']}"

    def confirmed(self) -> str:
        booking = self.book(self.first)
        if booking.status != "confirmed":
            raise FlowError(f"expected confirmed, got {booking.status} ({booking.reason})")
        self.ids["confirmed"] = booking.id
        if booking.id not in self.reserved_ids(self.first):
            raise FlowError("the confirmed booking does not hold its slot")
        return f"booking {booking.id} confirmed, {self.first} held"

    def conflict(self) -> str:
        booking = self.book(self.first)  # on purpose: the slot the first booking holds
        if booking.status != "rejected":
            raise FlowError(f"expected rejected, got {booking.status}")
        self.ids["rejected"] = booking.id
        return f"same slot again: rejected ({booking.reason})"

    def declined(self) -> str:
        booking = self.book(self.second, payment_method=DECLINED_CARD)
        if booking.status != "cancelled":
            raise FlowError(f"expected cancelled, got {booking.status}")
        if booking.id in self.reserved_ids(self.second):
            raise FlowError("the declined booking still holds its slot")
        self.ids["declined"] = booking.id
        return f"card declined: cancelled ({booking.reason}), {self.second} released"

    def cancel(self) -> str:
        booking = self.settled(self.client.cancel(self.ids["confirmed"]))
        if booking.status != "cancelled" or not booking.settled:
            raise FlowError(f"expected cancelled, got {booking.status} (settled {booking.settled})")
        payment = self.client.booking_details(booking.id).payment
        if payment is None or payment.status != "refunded":
            raise FlowError(f"payment is {payment and payment.status!r}, expected refunded")
        if booking.id in self.reserved_ids(self.first):
            raise FlowError("the cancelled booking still holds its slot")
        self.ids["cancelled"] = self.ids.pop("confirmed")
        return "confirmed booking cancelled: payment refunded, slot released"

    def notified(self) -> str:
        # One message per event: confirmed then cancelled for the cancelled booking, one for
        # each of the others.
        expected = {
            "confirmed": Counter(["booking.confirmed"]),  # when cancelling it failed
            "cancelled": Counter(["booking.confirmed", "booking.cancelled"]),
            "rejected": Counter(["booking.rejected"]),
            "declined": Counter(["booking.cancelled"]),
        }
        wanted = {self.ids[name]: events for name, events in expected.items() if name in self.ids}
        seen: dict[str, Counter[str]] = {}

        def all_sent() -> bool:
            for booking_id in wanted:
                sent = self.notifications.notifications(booking_id=booking_id)
                seen[booking_id] = Counter(n.event_type for n in sent)
            return all(seen[i] >= events for i, events in wanted.items())

        if not wait_until(all_sent, SETTLE_TIMEOUT_S, 0.2):
            raise FlowError(f"notifications sent per booking: {self._say(seen)}")
        extra = {i: seen[i] - events for i, events in wanted.items() if seen[i] - events}
        if extra:
            raise FlowError(f"notified more than once: {self._say(extra)}")
        return f"{sum(sum(c.values()) for c in seen.values())} notifications, one per event"

    @staticmethod
    def _say(counts: dict[str, Counter[str]]) -> str:
        return "; ".join(f"{i}: {dict(c)}" for i, c in counts.items()) or "none"

    def steps(self) -> list[tuple[str, Callable[[], str], bool]]:
        """(title, step, required): a failed required step ends the flow."""
        return [
            ("token", self.token, True),
            ("create a user", self.user, True),
            ("create a facility", self.facility, True),
            ("book a free slot", self.confirmed, True),
            ("book the same slot again", self.conflict, False),
            ("book with a declined card", self.declined, False),
            ("cancel the confirmed booking", self.cancel, False),
            ("notifications", self.notified, False),
        ]

    def run(self) -> Iterator[Step]:
        for title, step, required in self.steps():
            try:
                yield Step(title, True, step())
            except (FlowError, SuiteError, KeyError) as exc:
                yield Step(title, False, str(exc) or type(exc).__name__)
                if required:
                    return
