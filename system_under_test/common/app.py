"""`create_app`: one FastAPI service with the kernel wired in.

Lifespan order: logging → database (created, migrated) → broker (background connect) →
outbox relay → the service layer → consumers → start-up hooks → background tasks; stopped in
reverse. `app.state` holds `settings`, `db`, `broker`, `publisher`, `relay`, `downstreams` and
`service` (what `ServiceParts.service` built); routes reach the last through `service_layer`.

Tracing (common/tracing.py) comes with the app: a server span per request, client spans for
httpx, aio-pika and the database.

Each service's `app.py` builds its app when a server first asks for `app`
(`__getattr__ = served_app(...)`), so importing the module reads no environment, and a bad
setting stops the server with one line instead of a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import tracing
from .db import Database
from .messaging import Broker
from .observability import RequestContextMiddleware, configure_logging
from .outbox import EventPublisher, OutboxRelay
from .problems import install_problem_handlers, problem_openapi, problem_response
from .resilience import Downstream
from .settings import InvalidSettings, ServiceSettings, load_settings, refuse_to_start
from .shedding import InFlightLimit
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

AppHook = Callable[[FastAPI], Awaitable[None]]
# A service's own errors as problem responses: exception class -> (status, title), with the
# exception's message as the detail. The nearest class in an exception's MRO decides.
Problems = Mapping[type[Exception], tuple[int, str]]
S = TypeVar("S", bound=ServiceSettings)


@dataclass
class Consumer:
    """A queue this service consumes; `handler(app, event)` runs for each event."""

    queue: str
    routing_keys: Sequence[str]
    handler: Callable[[FastAPI, dict[str, Any]], Awaitable[None]]
    max_attempts: int | None = None  # None: settings.consumer_max_attempts


@dataclass
class ServiceParts:
    """What a service adds to the kernel (everything optional)."""

    metadata: MetaData | None = None
    migrations_dir: str | Path | None = None
    routers: Sequence[APIRouter] = ()
    messaging: bool = False
    consumers: Sequence[Consumer] = ()
    downstreams: Mapping[str, str] = field(default_factory=dict)
    # The service layer, built once the database, outbox and downstreams exist: what the
    # routes (`service_layer`), consumers and background tasks use.
    service: Callable[[FastAPI], Any] | None = None
    problems: Problems = field(default_factory=dict)
    startup: Sequence[AppHook] = ()
    background: Sequence[AppHook] = ()


class BodySizeLimit:
    """Answers 413 (problem body) when a request body exceeds `max_bytes`.

    Buffers the body (bounded) before the app sees it, so a chunked upload without
    Content-Length is limited too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, "Content Too Large", f"request body exceeds {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


def create_app(
    settings: ServiceSettings,
    parts: ServiceParts | None = None,
    *,
    title: str | None = None,
    description: str = "",
) -> FastAPI:
    """Build a service: problem handlers, body limit, in-flight bound, correlation/metrics
    middleware, `/health`, `/ready`, `/metrics`, the service's routers, and the lifespan."""
    parts = parts or ServiceParts()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.name, settings.log_level)
        state = app.state
        state.db = None
        state.broker = None
        state.publisher = None
        state.relay = None
        state.service = None
        state.downstreams = {
            name: Downstream(name, url, settings) for name, url in parts.downstreams.items()
        }
        tasks: list[asyncio.Task[None]] = []
        try:
            if parts.metadata is not None:
                state.db = Database(
                    settings.database_url,
                    parts.metadata,
                    parts.migrations_dir,
                    pool_size=settings.db_pool_size,
                    pool_overflow=settings.db_pool_overflow,
                    pool_timeout_s=settings.db_pool_timeout_s,
                    startup_timeout_s=settings.db_startup_timeout_s,
                )
                await state.db.start()
                tracing.instrument_engine(state.db.engine, settings)
            if parts.messaging:
                state.broker = Broker(settings)
                outbox = parts.metadata.tables.get("outbox") if parts.metadata is not None else None
                if outbox is not None and state.db is not None:
                    state.relay = OutboxRelay(state.db, state.broker, outbox, settings)
                    state.publisher = EventPublisher(settings, state.broker, outbox, state.relay)
                    state.relay.start()
            if parts.service is not None:
                state.service = parts.service(app)
            if state.broker is not None:
                for consumer in parts.consumers:
                    await state.broker.consume(
                        consumer.queue,
                        consumer.routing_keys,
                        _bind(consumer.handler, app),
                        consumer.max_attempts or settings.consumer_max_attempts,
                    )
                await state.broker.start()
            for hook in parts.startup:
                await hook(app)
            for hook in parts.background:
                tasks.append(asyncio.create_task(_guarded(hook, app), name=hook.__name__))
            log.info("%s started", settings.name)
            yield
        finally:
            for task in tasks:
                await cancel_and_wait(task)
            if state.relay is not None:
                await state.relay.stop()
            if state.broker is not None:
                await state.broker.stop()
            for downstream in state.downstreams.values():
                await downstream.aclose()
            if state.db is not None:
                await state.db.stop()
            tracing.flush()

    app = FastAPI(title=title or settings.name, description=description, lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    for error, (status, title) in parts.problems.items():
        app.add_exception_handler(error, _answer_with(status, title))
    # Outermost last: correlation id and metrics, then the in-flight bound (a shed request
    # is still counted and carries its correlation id), then the body limit.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InFlightLimit, service=settings.name, limit=settings.max_in_flight)
    app.add_middleware(RequestContextMiddleware, service=settings.name)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        checks: dict[str, bool] = {}
        if getattr(app.state, "db", None) is not None:
            checks["database"] = await app.state.db.ping()
        if getattr(app.state, "broker", None) is not None:
            checks["broker"] = app.state.broker.ready
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in parts.routers:
        app.include_router(router)
    app.openapi = lambda: problem_openapi(app)  # type: ignore[method-assign]
    tracing.instrument_app(app, settings)
    return app


def _answer_with(status: int, title: str) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, exc: Exception) -> Response:
        return problem_response(status, title, str(exc))

    return answer


def _bind(
    handler: Callable[[FastAPI, dict[str, Any]], Awaitable[None]], app: FastAPI
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    async def bound(event: dict[str, Any]) -> None:
        await handler(app, event)

    return bound


async def _guarded(hook: AppHook, app: FastAPI) -> None:
    try:
        await hook(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s failed", getattr(hook, "__name__", hook))


async def service_layer(request: Request) -> Any:  # async: no thread hop
    """The dependency every route takes its service layer from (`ServiceParts.service`);
    each service names it with its type: `Service = Annotated[X, Depends(service_layer)]`."""
    return request.app.state.service


def served_app(
    module: str, build: Callable[[S], FastAPI], settings_class: type[S]
) -> Callable[[str], FastAPI]:
    """A module `__getattr__` that builds `app` from the environment the first time a server
    asks for it (`uvicorn <module>:app`); a bad setting exits with one line (status 2)."""
    built: list[FastAPI] = []

    def __getattr__(name: str) -> FastAPI:
        if name != "app":
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        if not built:
            settings = load_settings(settings_class)
            try:
                built.append(build(settings))
            except InvalidSettings as error:
                refuse_to_start(settings.name, str(error))
        return built[0]

    return __getattr__
