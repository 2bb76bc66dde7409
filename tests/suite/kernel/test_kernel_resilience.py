"""Outbound calls: timeout, retries only when idempotent, circuit breaker, and each
mechanism's switch really turning it off. Against a real HTTP server on a free port."""

import asyncio
import socket
import time
import uuid
from collections import Counter

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY

from system_under_test.common.observability import correlation_id_var
from system_under_test.common.resilience import (
    Downstream,
    DownstreamTimeout,
    DownstreamUnavailable,
)
from system_under_test.common.settings import ServiceSettings

pytestmark = pytest.mark.integration


def upstream_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = Counter()
    app.state.healthy = True

    @app.get("/flaky/{key}")
    async def flaky(key: str, fail: int) -> JSONResponse:
        app.state.calls[key] += 1
        if app.state.calls[key] <= fail:
            return JSONResponse({"error": "overloaded"}, status_code=503)
        return JSONResponse({"ok": True, "calls": app.state.calls[key]})

    @app.get("/switchable")
    async def switchable() -> JSONResponse:
        app.state.calls["switchable"] += 1
        status = 200 if app.state.healthy else 500
        return JSONResponse({}, status_code=status)

    @app.get("/slow")
    async def slow(delay: float) -> dict:
        app.state.calls["slow"] += 1
        await asyncio.sleep(delay)
        return {"slept": delay}

    @app.get("/missing")
    async def missing() -> JSONResponse:
        app.state.calls["missing"] += 1
        return JSONResponse({"title": "Not Found"}, status_code=404)

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"correlation_id": request.headers.get("x-correlation-id")}

    return app


@pytest.fixture
async def upstream(http_server):
    app = upstream_app()
    async with http_server(app) as url:
        yield app, url


def settings(**overrides) -> ServiceSettings:
    values = {
        "name": f"caller_{uuid.uuid4().hex[:8]}",
        "http_timeout_s": 0.3,
        "retry_attempts": 3,
        "retry_backoff_s": 0.01,
        "breaker_threshold": 3,
        "breaker_recovery_s": 0.4,
    }
    return ServiceSettings(**{**values, **overrides})


def gauge(service: str, downstream: str) -> float | None:
    return REGISTRY.get_sample_value(
        "faultline_breaker_state", {"service": service, "downstream": downstream}
    )


async def test_timeout_is_honoured_and_switchable(upstream):
    _app, url = upstream
    on = Downstream("slowpoke", url, settings())
    started = time.perf_counter()
    with pytest.raises(DownstreamTimeout):
        await on.request("GET", "/slow", idempotent=False, params={"delay": 1.0})
    timed_out_after = time.perf_counter() - started

    off = Downstream("slowpoke", url, settings(timeouts=False, http_timeout_s=0.1))
    started = time.perf_counter()
    response = await off.request("GET", "/slow", idempotent=False, params={"delay": 1.0})
    answered_after = time.perf_counter() - started
    assert response.json() == {"slept": 1.0}
    # The same slow answer, measured in this run: the timeout (0.3 s) gave up well before it.
    assert timed_out_after < 0.75 * answered_after
    await on.aclose()
    await off.aclose()


async def test_a_call_may_wait_longer_than_the_default_timeout_but_not_forever(upstream):
    # A callee that answers within a budget of its own (bookings and its saga) gets that long.
    _app, url = upstream
    caller = Downstream("patient", url, settings(http_timeout_s=0.2))
    with pytest.raises(DownstreamTimeout):
        await caller.request("GET", "/slow", idempotent=False, params={"delay": 0.5})
    waited = await caller.request(
        "GET", "/slow", idempotent=False, params={"delay": 0.5}, timeout_s=5.0
    )
    assert waited.json() == {"slept": 0.5}
    with pytest.raises(DownstreamTimeout):
        await caller.request("GET", "/slow", idempotent=False, params={"delay": 2.0}, timeout_s=0.6)
    await caller.aclose()


async def test_retries_only_idempotent_calls(upstream):
    app, url = upstream
    caller = settings(breaker_threshold=10)
    client = Downstream("flaky", url, caller)

    response = await client.request("GET", "/flaky/a", idempotent=True, params={"fail": 2})
    assert response.status_code == 200 and app.state.calls["a"] == 3
    retries = REGISTRY.get_sample_value(
        "faultline_retries_total", {"service": caller.name, "downstream": "flaky"}
    )
    assert retries == 2

    with pytest.raises(DownstreamUnavailable, match="503"):
        await client.request("GET", "/flaky/b", idempotent=False, params={"fail": 2})
    assert app.state.calls["b"] == 1

    with pytest.raises(DownstreamUnavailable):
        await client.request("GET", "/flaky/c", idempotent=True, params={"fail": 5})
    assert app.state.calls["c"] == 3  # bounded by SVC_RETRY_ATTEMPTS
    await client.aclose()


async def test_retries_switch_off(upstream):
    app, url = upstream
    client = Downstream("flaky", url, settings(retries=False))
    with pytest.raises(DownstreamUnavailable):
        await client.request("GET", "/flaky/d", idempotent=True, params={"fail": 1})
    assert app.state.calls["d"] == 1
    await client.aclose()


async def test_breaker_opens_fails_fast_half_opens_and_closes(upstream, wait_until):
    app, url = upstream
    caller = settings(retries=False)
    client = Downstream("fragile", url, caller)
    assert gauge(caller.name, "fragile") == 0
    app.state.healthy = False
    for _ in range(3):
        with pytest.raises(DownstreamUnavailable):
            await client.request("GET", "/switchable", idempotent=True)
    assert client.breaker_state == "opened"
    assert gauge(caller.name, "fragile") == 2

    # Failing fast is refusing without a call: the upstream sees nothing, the caller is told
    # when to try again (the breaker's remaining recovery time).
    with pytest.raises(DownstreamUnavailable, match="circuit breaker open") as refused:
        await client.request("GET", "/switchable", idempotent=True)
    assert 0 < refused.value.retry_after <= 0.4
    assert app.state.calls["switchable"] == 3  # the open breaker made no call

    # After the recovery time one trial call goes through; a failure re-opens at once.
    await asyncio.sleep(0.45)  # the breaker's own clock: nothing to poll
    with pytest.raises(DownstreamUnavailable, match="500"):
        await client.request("GET", "/switchable", idempotent=True)
    assert client.breaker_state == "opened"
    assert app.state.calls["switchable"] == 4

    await asyncio.sleep(0.45)
    app.state.healthy = True
    response = await client.request("GET", "/switchable", idempotent=True)
    assert response.status_code == 200
    assert client.breaker_state == "closed" and gauge(caller.name, "fragile") == 0
    await client.aclose()


async def test_client_errors_are_answers_not_breaker_failures(upstream):
    app, url = upstream
    client = Downstream("picky", url, settings())
    for _ in range(6):
        response = await client.request("GET", "/missing", idempotent=True)
        assert response.status_code == 404
    assert client.breaker_state == "closed"
    assert app.state.calls["missing"] == 6  # and 4xx are not retried
    await client.aclose()


async def test_breakers_switch_off(upstream):
    app, url = upstream
    client = Downstream("unguarded", url, settings(breakers=False, retries=False))
    app.state.healthy = False
    for _ in range(6):
        with pytest.raises(DownstreamUnavailable, match="500"):
            await client.request("GET", "/switchable", idempotent=True)
    assert app.state.calls["switchable"] == 6
    await client.aclose()


async def test_unreachable_downstream_is_unavailable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Downstream("gone", f"http://127.0.0.1:{port}", settings())
    with pytest.raises(DownstreamUnavailable, match="unreachable"):
        await client.request("GET", "/", idempotent=True)
    await client.aclose()


async def test_correlation_id_is_propagated(upstream):
    _app, url = upstream
    client = Downstream("echo", url, settings())
    token = correlation_id_var.set("corr-123")
    try:
        response = await client.request("POST", "/echo", idempotent=False, json={})
    finally:
        correlation_id_var.reset(token)
    assert response.json() == {"correlation_id": "corr-123"}
    await client.aclose()
