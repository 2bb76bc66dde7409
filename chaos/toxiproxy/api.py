"""Toxiproxy 2.x's HTTP API (same routes, JSON shapes and status codes) as a Starlette app.

Every response carries `X-Faultline-Toxiproxy`, a header the real server never sends, so
clients can tell the embedded server apart without any change to the JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chaos.toxiproxy import metrics
from chaos.toxiproxy.errors import ApiError, bad_request
from chaos.toxiproxy.proxy import ProxyCollection

TOXIPROXY_VERSION = "2.12.0"
IDENTITY_HEADER = "X-Faultline-Toxiproxy"
FAULTLINE_SERVER = "faultline"

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _handles_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc)
        except Exception as exc:  # a bug must still answer in Toxiproxy's error shape
            log.exception("API %s %s failed", request.method, request.url.path)
            return _error(ApiError(f"internal error: {exc}", 500))

    return wrapped


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("EOF")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


class _Identify:
    """Adds the identity header; refuses browsers, as Toxiproxy does (CSRF protection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (IDENTITY_HEADER.lower().encode(), FAULTLINE_SERVER.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = dict(scope["headers"]).get(b"user-agent", b"")

        async def send_identified(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        if agent.startswith(b"Mozilla/"):
            refusal = Response("User agent not allowed\n", status_code=403, media_type="text/plain")
            await refusal(scope, receive, send_identified)
            return
        await self.app(scope, receive, send_identified)


def create_app(proxies: ProxyCollection) -> ASGIApp:
    registry = metrics.registry_for(proxies)

    async def version(request: Request) -> Response:
        body = f'{{"version": "{TOXIPROXY_VERSION}"}}\n'
        return Response(body, headers={"Content-Type": "application/json;charset=utf-8"})

    async def reset(request: Request) -> Response:
        proxies.reset()
        return Response(status_code=204)

    async def proxy_index(request: Request) -> Response:
        return JSONResponse({p.name: p.to_json() for p in proxies.sorted()})

    async def proxy_create(request: Request) -> Response:
        proxy = proxies.create(await _json(request))
        return JSONResponse(proxy.to_json(), status_code=201)

    async def populate(request: Request) -> Response:
        created = proxies.populate(await _json(request))
        return JSONResponse({"proxies": [p.to_json() for p in created]}, status_code=201)

    async def proxy_show(request: Request) -> Response:
        return JSONResponse(proxies.get(request.path_params["proxy"]).to_json())

    async def proxy_update(request: Request) -> Response:
        name = request.path_params["proxy"]
        proxies.get(name)
        return JSONResponse(proxies.update(name, await _json(request)).to_json())

    async def proxy_delete(request: Request) -> Response:
        proxies.delete(request.path_params["proxy"])
        return Response(status_code=204)

    async def toxic_index(request: Request) -> Response:
        proxy = proxies.get(request.path_params["proxy"])
        return JSONResponse([t.to_json() for t in proxy.toxic_list()])

    async def toxic_create(request: Request) -> Response:
        proxy = proxies.get(request.path_params["proxy"])
        return JSONResponse(proxy.add_toxic(await _json(request)).to_json())

    async def toxic_show(request: Request) -> Response:
        proxy = proxies.get(request.path_params["proxy"])
        return JSONResponse(proxy.find_toxic(request.path_params["toxic"]).to_json())

    async def toxic_update(request: Request) -> Response:
        proxy = proxies.get(request.path_params["proxy"])
        proxy.find_toxic(request.path_params["toxic"])
        toxic = proxy.update_toxic(request.path_params["toxic"], await _json(request))
        return JSONResponse(toxic.to_json())

    async def toxic_delete(request: Request) -> Response:
        proxy = proxies.get(request.path_params["proxy"])
        proxy.remove_toxic(request.path_params["toxic"])
        return Response(status_code=204)

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(registry), media_type="text/plain; version=0.0.4")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return JSONResponse({"error": str(detail).lower(), "status": status}, status_code=status)

    def route(path: str, handler: Handler, *methods: str) -> Route:
        return Route(path, _handles_errors(handler), methods=list(methods))

    routes = [
        route("/version", version, "GET"),
        route("/reset", reset, "POST"),
        route("/proxies", proxy_index, "GET"),
        route("/proxies", proxy_create, "POST"),
        route("/populate", populate, "POST"),
        route("/proxies/{proxy}", proxy_show, "GET"),
        route("/proxies/{proxy}", proxy_update, "POST", "PATCH"),
        route("/proxies/{proxy}", proxy_delete, "DELETE"),
        route("/proxies/{proxy}/toxics", toxic_index, "GET"),
        route("/proxies/{proxy}/toxics", toxic_create, "POST"),
        route("/proxies/{proxy}/toxics/{toxic}", toxic_show, "GET"),
        route("/proxies/{proxy}/toxics/{toxic}", toxic_update, "POST", "PATCH"),
        route("/proxies/{proxy}/toxics/{toxic}", toxic_delete, "DELETE"),
        route("/metrics", metrics_text, "GET"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    return _Identify(app)
