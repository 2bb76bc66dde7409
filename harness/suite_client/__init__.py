"""One typed client of the booking suite's API, sync (`SuiteClient`) and async
(`AsyncSuiteClient`), with the same operations.

Two ways to address the suite:

    client = SuiteClient.public(gateway_url)       # /api/... through the gateway, with a token
    client.login()                                  # demo / demo by default
    client = SuiteClient.direct({"bookings": url, "facilities": url, ...})   # services' own URLs
    client = SuiteClient.for_stack(stack, public=False)

Operations return small frozen models and raise `SuiteError` (status and problem body) on
anything but an expected answer; `try_*` variants and `send` return an `Answer` (status, body,
seconds, error, parsed `value`) and never raise. Slots come from the client's `SlotAllocator`
unless given, so bookings never collide by accident.
"""

from .calls import Addressing, Call, Direct, HttpRequest, Public, answer_from, build_request
from .client import AsyncSuiteClient, ClientCore, SuiteClient
from .errors import AddressingError, SuiteError
from .models import (
    DECLINED_CARD,
    GOOD_CARD,
    Answer,
    Availability,
    Booking,
    BookingDetails,
    BookingStatus,
    Charge,
    Facility,
    FacilityList,
    Notification,
    Payment,
    Reservation,
    ReservedSlot,
    Token,
    User,
)
from .polling import SETTLE_TIMEOUT_S, settled, terminal, wait_until, wait_until_async
from .slots import Slot, SlotAllocator, SlotsExhausted

__all__ = [
    "DECLINED_CARD",
    "GOOD_CARD",
    "SETTLE_TIMEOUT_S",
    "Addressing",
    "AddressingError",
    "Answer",
    "AsyncSuiteClient",
    "Availability",
    "Booking",
    "BookingDetails",
    "BookingStatus",
    "Call",
    "Charge",
    "ClientCore",
    "Direct",
    "Facility",
    "FacilityList",
    "HttpRequest",
    "Notification",
    "Payment",
    "Public",
    "Reservation",
    "ReservedSlot",
    "Slot",
    "SlotAllocator",
    "SlotsExhausted",
    "SuiteClient",
    "SuiteError",
    "Token",
    "User",
    "answer_from",
    "build_request",
    "settled",
    "terminal",
    "wait_until",
    "wait_until_async",
]
