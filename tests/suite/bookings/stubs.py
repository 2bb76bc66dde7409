"""Small real HTTP stand-ins for facilities and payments, with faults a test can script.

They follow the internal API in docs/architecture.md closely enough for the saga: idempotent
by booking id, 409 on a taken slot, 402 for `pm_card_chargeDeclined`, refund voids a charge
that never arrived. `fail(route, *faults)` queues faults for the next calls of a route:
`"503"` answers 503 without effect, `"hang"` never answers in time and has no effect,
`"late"` takes effect but answers too late (the ambiguous timeout), `"slow"` answers in time
after a pause.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

DECLINED_METHOD = "pm_card_chargeDeclined"
HANG_S = 1.0  # well past the clients' 0.3 s timeout in these tests
SLOW_S = 0.15  # slow, but answered in time


@dataclass
class Stub:
    faults: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    calls: Counter[str] = field(default_factory=Counter)
    # A route with a gate waits until the test opens it (then takes effect as usual).
    gates: dict[str, asyncio.Event] = field(default_factory=dict)

    def fail(self, route: str, *faults: str) -> None:
        self.faults[route].extend(faults)

    async def handle(self, route: str, effect: Any) -> Response:
        self.calls[route] += 1
        gate = self.gates.get(route)
        if gate is not None:
            await gate.wait()
        queue = self.faults.get(route) or []
        fault = queue.pop(0) if queue else None
        if fault == "503":
            return JSONResponse({"title": "down"}, status_code=503)
        if fault == "hang":
            await asyncio.sleep(HANG_S)
            return JSONResponse({"title": "too late"}, status_code=503)
        if fault == "slow":
            await asyncio.sleep(SLOW_S)
        response = effect()
        if fault == "late":
            await asyncio.sleep(HANG_S)
        return response


def _problem(status: int, title: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@dataclass
class Reservation:
    facility_id: str
    starts_at: datetime
    ends_at: datetime
    status: str = "held"


class FakeFacilities(Stub):
    def __init__(self) -> None:
        super().__init__()
        self.reservations: dict[str, Reservation] = {}
        self.unknown_facilities: set[str] = set()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/reservations/{id}", self._put, methods=["PUT"]),
                Route("/reservations/{id}/release", self._delete, methods=["POST"]),
                Route("/reservations/{id}/confirm", self._confirm, methods=["POST"]),
            ]
        )

    def occupying(self) -> dict[str, Reservation]:
        return {k: r for k, r in self.reservations.items() if r.status in ("held", "confirmed")}

    async def _put(self, request: Request) -> Response:
        booking_id = request.path_params["id"]
        body = await request.json()

        def effect() -> Response:
            if body["facility_id"] in self.unknown_facilities:
                return _problem(404, "unknown facility")
            wanted = Reservation(
                body["facility_id"],
                datetime.fromisoformat(body["starts_at"]),
                datetime.fromisoformat(body["ends_at"]),
            )
            existing = self.reservations.get(booking_id)
            if existing is not None and existing.status != "released":
                return JSONResponse({"booking_id": booking_id, "status": existing.status})
            for other_id, other in self.occupying().items():
                overlaps = other.starts_at < wanted.ends_at and wanted.starts_at < other.ends_at
                if other_id != booking_id and other.facility_id == wanted.facility_id and overlaps:
                    return _problem(409, "slot taken")
            self.reservations[booking_id] = wanted
            return JSONResponse({"booking_id": booking_id, "status": "held"}, status_code=201)

        return await self.handle("reserve", effect)

    async def _delete(self, request: Request) -> Response:
        booking_id = request.path_params["id"]

        def effect() -> Response:
            if booking_id in self.reservations:
                self.reservations[booking_id].status = "released"
            return Response(status_code=204)

        return await self.handle("release", effect)

    async def _confirm(self, request: Request) -> Response:
        booking_id = request.path_params["id"]

        def effect() -> Response:
            reservation = self.reservations.get(booking_id)
            if reservation is None:
                return _problem(404, "no reservation")
            if reservation.status == "released":
                return _problem(409, "released")
            reservation.status = "confirmed"
            return JSONResponse({"booking_id": booking_id, "status": "confirmed"})

        return await self.handle("confirm", effect)


class FakePayments(Stub):
    def __init__(self) -> None:
        super().__init__()
        self.charges: dict[str, str] = {}  # booking id -> captured | refunded | voided

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/charges/{id}", self._charge, methods=["PUT"]),
                Route("/charges/{id}/refund", self._refund, methods=["POST"]),
            ]
        )

    async def _charge(self, request: Request) -> Response:
        booking_id = request.path_params["id"]
        body = await request.json()

        def effect() -> Response:
            if body["payment_method"] == DECLINED_METHOD:
                return _problem(402, "card declined")
            status = self.charges.get(booking_id)
            if status in ("refunded", "voided"):
                return _problem(409, f"charge {status}")
            self.charges[booking_id] = "captured"
            code = 200 if status == "captured" else 201
            return JSONResponse({"booking_id": booking_id, "status": "captured"}, status_code=code)

        return await self.handle("charge", effect)

    async def _refund(self, request: Request) -> Response:
        booking_id = request.path_params["id"]

        def effect() -> Response:
            status = self.charges.get(booking_id)
            if status is None:
                self.charges[booking_id] = "voided"
            elif status == "captured":
                self.charges[booking_id] = "refunded"
            return JSONResponse({"booking_id": booking_id, "status": self.charges[booking_id]})

        return await self.handle("refund", effect)
