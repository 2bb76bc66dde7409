"""HTTP routes of payments (see docs/architecture.md, "Internal HTTP APIs")."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Response

from system_under_test.common.app import Problems, service_layer
from system_under_test.common.links import link, links
from system_under_test.common.problems import problem_responses

from .domain import (
    Charge,
    ChargeMismatch,
    ChargeNotFound,
    ChargeRefunded,
    ChargeVoided,
    PaymentDeclined,
    PaymentsError,
    UnknownPaymentMethod,
)
from .schemas import ChargeIn, ChargeOut, RefundOut
from .service import PaymentsService

router = APIRouter(tags=["charges"])
# The rules a request can break, as the problem each is answered with.
PROBLEMS: Problems = {
    PaymentDeclined: (402, "Payment declined"),
    ChargeNotFound: (404, "Charge not found"),
    ChargeVoided: (409, "Charge voided"),
    ChargeRefunded: (409, "Charge refunded"),
    ChargeMismatch: (409, "Charged a different amount"),
    UnknownPaymentMethod: (422, "Unknown payment method"),
    PaymentsError: (409, "Conflict"),
}

# A charge is addressed by its booking's id, which the client chose in the PUT.
_CHARGE_LINKS = links(
    GetCharge=link(
        "GET", "/charges/{booking_id}", "the charge", booking_id="$request.path.booking_id"
    ),
    Refund=link(
        "POST",
        "/charges/{booking_id}/refund",
        "refund it (or void the booking)",
        booking_id="$request.path.booking_id",
    ),
)


Service = Annotated[PaymentsService, Depends(service_layer)]


def _out(charge: Charge) -> ChargeOut:
    return ChargeOut(
        id=charge.id,
        booking_id=charge.booking_id,
        amount_cents=charge.amount_cents,
        payment_method=charge.payment_method,
        status=charge.status.value,
        decline_code=charge.decline_code,
    )


@router.put(
    "/charges/{booking_id}",
    status_code=201,
    response_model=ChargeOut,
    responses={
        201: {"description": "captured", **_CHARGE_LINKS},
        200: {
            "model": ChargeOut,
            "description": "the booking was already charged (replay)",
            **_CHARGE_LINKS,
        },
        402: {
            "description": "Payment declined: the card was declined (the `pm_card_chargeDeclined…`"
            " test cards always are); the declined attempt is kept",
            **_CHARGE_LINKS,
        },
        409: {"description": "Conflict: the booking's charge was refunded or voided"},
    },
)
async def charge(
    booking_id: UUID,
    body: ChargeIn,
    response: Response,
    service: Service,
) -> ChargeOut:
    """Charge the booking once: 201 captured, 200 replay, 402 declined, 409 refunded/voided."""
    result = await service.charge(booking_id, body.amount_cents, body.payment_method)
    if not result.created:
        response.status_code = 200
    return _out(result.charge)


@router.post("/charges/{booking_id}/refund", response_model=RefundOut)
async def refund(booking_id: UUID, service: Service) -> RefundOut:
    """Refund what was captured, or void the booking when nothing was (idempotent)."""
    refunded = await service.refund(booking_id)
    return RefundOut(booking_id=booking_id, status=refunded.status.value)


@router.get("/charges/{booking_id}", response_model=ChargeOut, responses=problem_responses(404))
async def get_charge(booking_id: UUID, service: Service) -> ChargeOut:
    return _out(await service.get(booking_id))
