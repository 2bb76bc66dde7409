"""Toxiproxy 2.12.0's HTTP API, answered the way its Go server answers (api.go, gorilla/mux).

- A route matches on its path and method exactly. A known path asked with another method gets
  405 with an empty body, an unknown path `404 page not found` in plain text, and a path that is
  not clean (`//`, `/./`, `/../`) a 301 to its clean form, as gorilla/mux does.
- As in gorilla/mux, middleware runs only when a route matched: every answer of a route carries
  a new `X-Toxiproxy-Request-Id` (shaped like rs/xid's ids), and browsers get 403.
- Bodies are Go's JSON (see gojson); errors go out as Go's `http.Error` writes them: the JSON
  `{"error", "status"}` and a newline, as text/plain.

faultline's extension routes, which a real Toxiproxy answers 404 and its clients never call:
`GET /metrics` (Prometheus text) and `GET /faultline` (what this server adds).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import os
import posixpath
import random
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chaos.toxiproxy import gojson, metrics
from chaos.toxiproxy.errors import ApiError
from chaos.toxiproxy.proxy import ProxyCollection
from chaos.toxiproxy.toxics import EXTENSION_TYPES

TOXIPROXY_VERSION = "2.12.0"
REQUEST_ID_HEADER = "X-Toxiproxy-Request-Id"
IDENTITY_PATH = "/faultline"

log = logging.getLogger(__name__)
Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]


class _RequestIds:
    """Ids shaped like rs/xid's, which Toxiproxy's request-id middleware sends: 12 bytes (time,
    machine, process, counter) in lowercase base32hex, 20 characters, sortable by time."""

    def __init__(self) -> None:
        host = socket.gethostname().encode()
        self.machine = hashlib.md5(host, usedforsecurity=False).digest()[:3]
        self.pid = (os.getpid() & 0xFFFF).to_bytes(2, "big")
        self.counter = itertools.count(random.getrandbits(24))

    def new(self) -> str:
        count = (next(self.counter) & 0xFFFFFF).to_bytes(3, "big")
        raw = int(time.time()).to_bytes(4, "big") + self.machine + self.pid + count
        return base64.b32hexencode(raw).decode().rstrip("=").lower()


def clean_path(path: str) -> str:
    """gorilla/mux's cleanPath: Go's path.Clean, keeping a trailing slash."""
    if not path:
        return "/"
    if not path.startswith("/"):
        path = "/" + path
    cleaned = "/" + posixpath.normpath(path).lstrip("/")
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    return cleaned


def json_response(body: Any, status: int = 200) -> Response:
    return Response(gojson.dumps(body), status, media_type="application/json")


def plain_text(body: bytes, status: int) -> Response:
    """What Go's `http.Error` writes: the text and a newline, with these two headers."""
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
    return Response(body + b"\n", status, headers=headers)


def error_response(exc: ApiError) -> Response:
    return plain_text(gojson.dumps(exc.body()), exc.status)


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    handler: Handler


def _route(path: str, handler: Handler, *methods: str) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(re.compile(regex), frozenset(methods), handler)


class ToxiproxyApi:
    """The ASGI app: a router with gorilla/mux's rules in front of Toxiproxy's handlers."""

    def __init__(self, proxies: ProxyCollection) -> None:
        self.proxies = proxies
        self.registry = metrics.registry_for(proxies)
        self.ids = _RequestIds()
        self.routes = [
            _route("/reset", self.reset, "POST"),
            _route("/proxies", self.proxy_index, "GET"),
            _route("/proxies", self.proxy_create, "POST"),
            _route("/populate", self.populate, "POST"),
            _route("/proxies/{proxy}", self.proxy_show, "GET"),
            _route("/proxies/{proxy}", self.proxy_update, "POST", "PATCH"),
            _route("/proxies/{proxy}", self.proxy_delete, "DELETE"),
            _route("/proxies/{proxy}/toxics", self.toxic_index, "GET"),
            _route("/proxies/{proxy}/toxics", self.toxic_create, "POST"),
            _route("/proxies/{proxy}/toxics/{toxic}", self.toxic_show, "GET"),
            _route("/proxies/{proxy}/toxics/{toxic}", self.toxic_update, "POST", "PATCH"),
            _route("/proxies/{proxy}/toxics/{toxic}", self.toxic_delete, "DELETE"),
            _route("/version", self.version, "GET"),
            _route("/metrics", self.metrics_text, "GET"),
            _route(IDENTITY_PATH, self.identity, "GET"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.dispatch(request)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        path = request.scope["path"]
        cleaned = clean_path(path)
        if cleaned != path:
            query = request.scope.get("query_string", b"").decode("latin-1")
            location = cleaned + (f"?{query}" if query else "")
            return Response(status_code=301, headers={"Location": location})
        wrong_method = False
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if request.method not in route.methods:
                wrong_method = True
                continue
            response = await self.matched(route.handler, request, match.groupdict())
            response.headers[REQUEST_ID_HEADER] = self.ids.new()
            return response
        if wrong_method:
            return Response(status_code=405)
        return plain_text(b"404 page not found", 404)

    async def matched(self, handler: Handler, request: Request, params: dict[str, str]) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return plain_text(b"User agent not allowed", 403)
        try:
            return await handler(request, params)
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:  # a bug must still answer in Toxiproxy's error shape
            log.exception("API %s %s failed", request.method, request.url.path)
            return error_response(ApiError(f"internal error: {exc}", 500))

    # ---- Toxiproxy's routes ----------------------------------------------------------------
    async def version(self, request: Request, params: dict[str, str]) -> Response:
        body = f'{{"version": "{TOXIPROXY_VERSION}"}}\n'
        return Response(body, headers={"Content-Type": "application/json;charset=utf-8"})

    async def reset(self, request: Request, params: dict[str, str]) -> Response:
        self.proxies.reset()
        return Response(status_code=204)

    async def proxy_index(self, request: Request, params: dict[str, str]) -> Response:
        return json_response({p.name: p.to_json() for p in self.proxies.sorted()})

    async def proxy_create(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.create_json(await request.body())
        return json_response(proxy.to_json(), 201)

    async def populate(self, request: Request, params: dict[str, str]) -> Response:
        made, error = self.proxies.populate_json(await request.body())
        if error is not None:
            log.warning("populate stopped: %s", error.message)
        body: dict[str, Any] = error.body() if error is not None else {}
        # Go writes a list with nothing in it as null.
        body["proxies"] = [p.to_json() for p in made] or None
        return json_response(body, error.status if error is not None else 201)

    async def proxy_show(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(self.proxies.get(params["proxy"]).to_json())

    async def proxy_update(self, request: Request, params: dict[str, str]) -> Response:
        name = params["proxy"]
        self.proxies.get(name)
        return json_response(self.proxies.update_json(name, await request.body()).to_json())

    async def proxy_delete(self, request: Request, params: dict[str, str]) -> Response:
        self.proxies.delete(params["proxy"])
        return Response(status_code=204)

    async def toxic_index(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.get(params["proxy"])
        return json_response([t.to_json() for t in proxy.toxics.all()])

    async def toxic_create(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.get(params["proxy"])
        return json_response(proxy.toxics.add_json(await request.body()).to_json())

    async def toxic_show(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.get(params["proxy"])
        return json_response(proxy.toxics.find(params["toxic"]).to_json())

    async def toxic_update(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.get(params["proxy"])
        toxic = proxy.toxics.update_json(params["toxic"], await request.body())
        return json_response(toxic.to_json())

    async def toxic_delete(self, request: Request, params: dict[str, str]) -> Response:
        proxy = self.proxies.get(params["proxy"])
        proxy.toxics.remove(params["toxic"])
        return Response(status_code=204)

    # ---- faultline's extensions ------------------------------------------------------------
    async def metrics_text(self, request: Request, params: dict[str, str]) -> Response:
        return Response(metrics.render(self.registry), media_type="text/plain; version=0.0.4")

    async def identity(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(
            {
                "server": "faultline",
                "toxiproxy": TOXIPROXY_VERSION,
                "toxics": sorted(EXTENSION_TYPES),
                "routes": ["/metrics", IDENTITY_PATH],
                "seed": self.proxies.seed,
            }
        )


def create_app(proxies: ProxyCollection) -> ToxiproxyApi:
    return ToxiproxyApi(proxies)
