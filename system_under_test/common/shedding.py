"""Load shedding: a bound on the requests a service works on at once.

Past the bound a request is answered at once with 503 + `Retry-After`, before it reads its
body or touches the database, instead of queueing behind the others until a timeout somewhere
answers for it (the pool's, or the caller's). Probes and metrics are never refused, so an
overloaded service still reports itself alive and explains why it sheds.
"""

from __future__ import annotations

from collections.abc import Collection

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_response

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})
RETRY_AFTER_S = 1

IN_FLIGHT = Gauge("faultline_requests_in_flight", "Requests being worked on", ["service"])
SHED = Counter(
    "faultline_requests_shed_total",
    "Requests answered 503 at once because the service was at its in-flight bound",
    ["service"],
)


class InFlightLimit:
    """At most `limit` requests in the app at once (a plain ASGI middleware: no task or lock
    per request, just a counter on the event loop that runs every request)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        limit: int,
        exempt: Collection[str] = EXEMPT_PATHS,
    ) -> None:
        if limit < 1:
            raise ValueError("the in-flight bound must be at least 1")
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self._gauge = IN_FLIGHT.labels(service)
        self._shed = SHED.labels(service)
        # Rendered once: under overload the refusal is the hot path, and it must stay cheap.
        self._refusal = problem_response(
            503,
            "Service overloaded",
            f"{limit} requests are in progress; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self._shed.inc()
            await self._refusal(scope, receive, send)
            return
        self.in_flight += 1
        self._gauge.set(self.in_flight)
        answered = False

        def release() -> None:
            nonlocal answered
            if not answered:
                answered = True
                self.in_flight -= 1
                self._gauge.set(self.in_flight)

        async def send_then_release(message: Message) -> None:
            await send(message)
            # The slot is free once the answer is out: clean-up after it (FastAPI closes its
            # dependencies then) must not make a client's next request find it taken.
            if message["type"] == "http.response.body" and not message.get("more_body"):
                release()

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
