"""bookings as a consumer: its saga's real HTTP adapters over a `Downstream` pointed at a
Pact mock provider."""

from __future__ import annotations

import uuid
from datetime import datetime

from contracts.consumer.expectations import (
    AMOUNT_CENTS,
    BOOKING_ID,
    CARD_OK,
    ENDS_AT,
    FACILITY_ID,
    STARTS_AT,
    USER_ID,
)
from system_under_test.bookings.clients import FacilitiesClient, PaymentsClient
from system_under_test.bookings.domain import Booking
from system_under_test.bookings.settings import BookingsSettings
from system_under_test.common.resilience import Downstream

# One answer per call: a retry would only repeat what the pact already shows.
SETTINGS = BookingsSettings(retry_attempts=1, log_level="WARNING")


def the_booking(**changes: object) -> Booking:
    fields: dict[str, object] = {
        "id": uuid.UUID(BOOKING_ID),
        "user_id": uuid.UUID(USER_ID),
        "facility_id": uuid.UUID(FACILITY_ID),
        "starts_at": datetime.fromisoformat(STARTS_AT),
        "ends_at": datetime.fromisoformat(ENDS_AT),
        "amount_cents": AMOUNT_CENTS,
        "payment_method": CARD_OK,
    }
    fields.update(changes)
    return Booking.create(**fields)  # type: ignore[arg-type]


def facilities_client(url: str) -> FacilitiesClient:
    return FacilitiesClient(Downstream("facilities", url, SETTINGS))


def payments_client(url: str) -> PaymentsClient:
    return PaymentsClient(Downstream("payments", url, SETTINGS))
