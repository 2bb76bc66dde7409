"""RFC 9457 problem responses: every error a service gives is one of these."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from .resilience import DownstreamError

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The title of every refusal of a request that breaks the API's own schema rules, and only of
# those: refusals on business rules (an unknown reference, a reused key) carry their own title.
VALIDATION_FAILED = "Validation failed"
log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class ProblemError(Exception):
    """Raise from a route or service to answer with a problem body."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        detail: str | None = None,
        *,
        type: str = "about:blank",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.detail = detail
        self.type = type
        self.headers = headers or {}


def problem_response(
    status: int,
    title: str | None = None,
    detail: str | None = None,
    *,
    type: str = "about:blank",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=type, title=title or _TITLES.get(status, "Error"), status=status, detail=detail
    )
    return JSONResponse(
        body.model_dump(), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route: each status documented as a problem body."""
    return {s: {"model": Problem, "description": _TITLES.get(s, "Error")} for s in statuses}


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def install_problem_handlers(app: FastAPI) -> None:
    """Turn every error (ours, FastAPI's, Starlette's, unexpected) into a problem body."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status, exc.title, exc.detail, type=exc.type, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(400, "Malformed JSON", "the request body is not valid JSON")
        return problem_response(422, VALIDATION_FAILED, _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = exc.headers
        if exc.status_code == 405:
            allowed = _allowed_methods(request.app, request.url.path)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(sorted(allowed))}
        return problem_response(exc.status_code, None, detail, headers=headers)

    @app.exception_handler(DownstreamError)
    async def _downstream(request: Request, exc: DownstreamError) -> JSONResponse:
        retry_after = str(max(1, math.ceil(exc.retry_after)))
        return problem_response(
            503, "Downstream unavailable", str(exc), headers={"Retry-After": retry_after}
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return problem_response(
            503, "Database unavailable", "try again shortly", headers={"Retry-After": "1"}
        )

    for db_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(db_error, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, "Internal Server Error", "an unexpected error occurred")


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _allowed_methods(app: FastAPI, path: str) -> set[str]:
    """Every method the API serves on `path`, as its OpenAPI document lists them.

    Starlette's 405 names the methods of the first route matching the path only; where GET and
    POST share a path (`/facilities`), `Allow` must list both (RFC 9110).
    """
    index: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_index", None)
    if index is None:
        index = [
            (compile_path(template)[0], {m.upper() for m in item if m.upper() in _METHODS})
            for template, item in app.openapi()["paths"].items()
        ]
        app.state.allow_index = index
    return set().union(*(methods for regex, methods in index if regex.match(path)))


def problem_openapi(app: FastAPI) -> dict[str, Any]:
    """OpenAPI document whose error responses say what is really sent.

    FastAPI documents errors as `application/json` and 422 as its own validation model; we
    answer `application/problem+json` with `Problem`, plus 400 (malformed JSON) and 413
    (oversized body) on every route that takes a body, and 503 (a dependency is away) on
    every route. Schemathesis checks all of this.
    """
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema()
    ref = {"$ref": "#/components/schemas/Problem"}
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            extra = [400, 413, 503] if "requestBody" in operation else [503]
            for status in extra:
                responses.setdefault(str(status), {"description": _TITLES[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = dict(problem_content)
                    response.setdefault("description", _TITLES.get(int(status), "Error"))
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema
