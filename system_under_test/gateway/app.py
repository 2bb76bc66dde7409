"""`app`: the public gateway, as uvicorn runs it (`system_under_test.gateway.app:app`).

It refuses to start without a signing key (`SVC_JWT_SECRET`) unless `SVC_DEMO=true`."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from system_under_test.common.app import ServiceParts, create_app, served_app

from .api import api, public
from .clients import downstream_urls, healthy
from .settings import GatewaySettings
from .state import GatewayState

DESCRIPTION = """Public API of the funeral-service booking suite.

Obtain a token with `POST /api/auth/token` (form fields `username=demo`, `password=demo`)
and send it as `Authorization: Bearer <token>` on every other `/api` route. Errors are
`application/problem+json` bodies (RFC 9457)."""


def build_app(settings: GatewaySettings | None = None) -> FastAPI:
    """The gateway; `MissingSigningKey` without a signing key outside demo mode."""
    settings = settings or GatewaySettings()
    settings.signing_key  # noqa: B018 (raises MissingSigningKey)

    def state(app: FastAPI) -> GatewayState:
        return GatewayState(settings=settings, downstreams=app.state.downstreams)

    app = create_app(
        settings,
        ServiceParts(
            routers=[public, api],
            downstreams=downstream_urls(settings),
            service=state,
        ),
        title="faultline booking gateway",
        description=DESCRIPTION,
    )
    _replace_ready(app, settings)
    return app


def _replace_ready(app: FastAPI, settings: GatewaySettings) -> None:
    # The kernel's /ready checks a database and a broker; the gateway has neither, and
    # is ready when the services it relays to answer their /health.
    app.router.routes[:] = [
        r for r in app.router.routes if not (isinstance(r, APIRoute) and r.path == "/ready")
    ]
    urls = downstream_urls(settings)

    @app.get("/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        results = await asyncio.gather(
            *(healthy(url, settings.ready_timeout_s) for url in urls.values())
        )
        checks = dict(zip(urls, results, strict=True))
        ok = all(results)
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks},
            status_code=200 if ok else 503,
        )


__getattr__ = served_app(__name__, build_app, GatewaySettings)
