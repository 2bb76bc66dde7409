"""The payments service: `uvicorn system_under_test.payments.app:app`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from system_under_test.common.app import ServiceParts, create_app
from system_under_test.common.problems import problem_response
from system_under_test.common.settings import ServiceSettings

from .api import router
from .domain import (
    ChargeMismatch,
    ChargeNotFound,
    ChargeRefunded,
    ChargeVoided,
    PaymentDeclined,
    PaymentsError,
    UnknownPaymentMethod,
)
from .orm import MIGRATIONS_DIR, metadata


class PaymentsSettings(ServiceSettings):
    name: str = "payments"
    port: int = 8083


_PROBLEMS: dict[type[PaymentsError], tuple[int, str]] = {
    PaymentDeclined: (402, "Payment declined"),
    ChargeNotFound: (404, "Charge not found"),
    ChargeVoided: (409, "Charge voided"),
    ChargeRefunded: (409, "Charge refunded"),
    ChargeMismatch: (409, "Charged a different amount"),
    UnknownPaymentMethod: (422, "Unknown payment method"),
}


async def _domain_problem(request: Request, exc: Exception) -> JSONResponse:
    status, title = _PROBLEMS.get(type(exc), (409, "Conflict"))
    return problem_response(status, title, str(exc))


def build_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()
    app = create_app(
        settings,
        ServiceParts(metadata=metadata, migrations_dir=MIGRATIONS_DIR, routers=[router]),
        title="payments",
        description="Charges and refunds, idempotent by booking id. Test cards: "
        "`pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined.",
    )
    app.add_exception_handler(PaymentsError, _domain_problem)
    return app


app = build_app()
