"""The payments service: `uvicorn system_under_test.payments.app:app`."""

from __future__ import annotations

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app, served_app
from system_under_test.common.uow import SqlUnitOfWork

from .api import PROBLEMS, router
from .orm import MIGRATIONS_DIR, metadata
from .repository import SqlPaymentsRepository
from .service import PaymentsService
from .settings import PaymentsSettings


def service(app: FastAPI) -> PaymentsService:
    return PaymentsService(SqlUnitOfWork(app.state.db, SqlPaymentsRepository))


def build_app(settings: PaymentsSettings | None = None) -> FastAPI:
    settings = settings or PaymentsSettings()
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS_DIR,
        routers=[router],
        service=service,
        problems=PROBLEMS,
    )
    return create_app(
        settings,
        parts,
        title="payments",
        description="Charges and refunds, idempotent by booking id. Test cards: "
        "`pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined.",
    )


__getattr__ = served_app(__name__, build_app, PaymentsSettings)
