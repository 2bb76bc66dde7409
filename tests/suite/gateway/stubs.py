"""A downstream the test controls: served by real uvicorn on port 0, answering like a
suite service, or failing (5xx), or hanging, on demand."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from conftest import serve
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from system_under_test.gateway import tokens
from system_under_test.gateway.settings import GatewaySettings

SECRET = "gateway-test-signing-key-of-32-bytes!"


@dataclass
class Stub:
    """`mode`: "ok" answers `routes`, "fail" answers 500, "hang" waits until released."""

    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    mode: str = "ok"
    hits: list[str] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    received: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def answer(path: str, request: Request) -> JSONResponse:
            key = f"{request.method} /{path}"
            self.hits.append(key)
            body = await request.body()
            self.received.append({"key": key, "headers": dict(request.headers), "body": body})
            if path == "health":
                return JSONResponse(
                    {"status": "ok"}, status_code=500 if self.mode == "fail" else 200
                )
            if self.mode == "fail":
                return JSONResponse({"title": "boom"}, status_code=500)
            if self.mode == "hang":
                await self.released.wait()
            status, payload = self.routes.get(key, (404, _problem(404, f"no route {key}")))
            media = "application/problem+json" if status >= 400 else "application/json"
            return JSONResponse(payload, status_code=status, media_type=media)

        return app


def _problem(status: int, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": "Not Found", "status": status, "detail": detail}


@contextlib.asynccontextmanager
async def served(stub: Stub) -> AsyncIterator[str]:
    async with serve(stub.app()) as url:
        try:
            yield url
        finally:
            # Hung handlers must return before uvicorn can shut down.
            stub.released.set()


def unused_url() -> str:
    """A loopback URL where nothing listens (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def gateway_settings(**overrides: Any) -> GatewaySettings:
    defaults: dict[str, Any] = {
        "users_url": unused_url(),
        "facilities_url": unused_url(),
        "bookings_url": unused_url(),
        "payments_url": unused_url(),
        "jwt_secret": SECRET,
        "http_timeout_s": 0.5,
        "retry_backoff_s": 0.01,
        "log_level": "WARNING",
    }
    return GatewaySettings(**{**defaults, **overrides})


def auth_header(secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.issue('demo', secret, 300)}"}


def facility(name: str = "Chapel") -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "name": name, "capacity": 80}
