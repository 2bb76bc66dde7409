"""Outbound HTTP with a timeout, retries (tenacity) and a circuit breaker (purgatory).

Every call a service makes to another goes through `Downstream.request`. Each mechanism
has a switch in the settings so the chaos layer can show what happens without it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from prometheus_client import Counter, Gauge
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from . import tracing
from .observability import CORRELATION_HEADER, get_correlation_id
from .settings import ServiceSettings

log = logging.getLogger(__name__)

BREAKER_STATE = Gauge(
    "faultline_breaker_state",
    "Circuit breaker state per downstream: 0 closed, 1 half-open, 2 open",
    ["service", "downstream"],
)
RETRIES = Counter("faultline_retries_total", "Retried outbound calls", ["service", "downstream"])
DOWNSTREAM_REQUESTS = Counter(
    "faultline_downstream_requests_total",
    "Outbound calls by outcome (ok, client_error, server_error, transport_error, timeout, "
    "breaker_open)",
    ["service", "downstream", "outcome"],
)

_STATE_VALUES = {"closed": 0, "half-opened": 1, "opened": 2}


class DownstreamError(Exception):
    """A downstream did not give a usable answer; the caller may try again later."""

    def __init__(self, downstream: str, detail: str, retry_after: float = 1.0) -> None:
        super().__init__(f"{downstream}: {detail}")
        self.downstream = downstream
        self.retry_after = retry_after


class DownstreamUnavailable(DownstreamError):
    """Transport error, 5xx after retries, or open breaker (no call was made then)."""


class DownstreamTimeout(DownstreamError):
    """No answer within the timeout: the call may or may not have taken effect."""


class _ServerError(Exception):
    """A 5xx answer, raised so that the breaker and the retry policy see a failure."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class Downstream:
    """HTTP client for one downstream service, with its own circuit breaker.

    `request` returns the response for 2xx-4xx (a 4xx is the downstream's answer, so it
    counts as a breaker success); raises `DownstreamTimeout` on a timeout and
    `DownstreamUnavailable` on transport errors, 5xx, or while the breaker is open.
    Retries (exponential backoff with full jitter) happen only for `idempotent=True` calls.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        settings: ServiceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._service = settings.name
        self._timeout = (
            httpx.Timeout(settings.http_timeout_s) if settings.timeouts else httpx.Timeout(None)
        )
        self._base_url = base_url.rstrip("/")
        # Requests go to the transport (httpx's connection pool) directly. The client around it
        # adds what a call between two services never uses (cookies, redirects, auth, base-URL
        # merging) and cost a quarter of the time of each call; the pool, the timeouts (a
        # request's `timeout` extension) and httpx's exceptions are the same.
        self._transport = transport or httpx.AsyncHTTPTransport()
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=settings.breaker_threshold,
            default_ttl=settings.breaker_recovery_s,
        )
        self._breakers.add_listener(self._on_breaker_event)
        self._state = "closed"
        self._opened_at: float | None = None
        BREAKER_STATE.labels(self._service, name).set(0)

    @property
    def breaker_state(self) -> str:
        """`closed`, `half-opened` or `opened` (purgatory's names)."""
        return self._state

    def _on_breaker_event(self, name: str, event_type: str, event: Any) -> None:
        if event_type != "state_changed":
            return
        self._state = event.state
        self._opened_at = event.opened_at
        BREAKER_STATE.labels(self._service, self.name).set(_STATE_VALUES.get(event.state, 0))
        log.warning("circuit breaker %s -> %s", self.name, event.state)

    def _retry_after(self) -> float:
        if self._opened_at is None:
            return self.settings.breaker_recovery_s
        return max(0.0, self._opened_at + self.settings.breaker_recovery_s - time.time())

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> httpx.Response:
        """`timeout_s` replaces `SVC_HTTP_TIMEOUT_S` for this call (a route whose callee
        promises an answer within a longer budget); with `SVC_TIMEOUTS=false` there is none."""
        attempts = self.settings.retry_attempts if idempotent and self.settings.retries else 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, attempts)),
            wait=wait_random_exponential(multiplier=self.settings.retry_backoff_s, max=2.0),
            retry=retry_if_exception_type((httpx.TransportError, _ServerError)),
            before_sleep=self._count_retry,
            reraise=True,
        )
        send_headers = dict(headers or {})
        cid = get_correlation_id()
        if cid:
            send_headers.setdefault(CORRELATION_HEADER, cid)
        limit = self._timeout if timeout_s is None or not self.settings.timeouts else timeout_s
        try:
            async for attempt in retrying:
                with attempt:
                    response = await self._attempt(method, path, json, params, send_headers, limit)
        except OpenedState as exc:
            self._count("breaker_open")
            # No call is made, so no client span says so: the caller's span records it.
            tracing.note(f"{method} {path}: breaker open", downstream=self.name)
            raise DownstreamUnavailable(
                self.name, "circuit breaker open", self._retry_after()
            ) from exc
        except httpx.TimeoutException as exc:
            raise DownstreamTimeout(self.name, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise DownstreamUnavailable(self.name, f"unreachable ({type(exc).__name__})") from exc
        except _ServerError as exc:
            raise DownstreamUnavailable(self.name, f"answered {exc.response.status_code}") from exc
        return response

    async def _attempt(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        limit: httpx.Timeout | float,
    ) -> httpx.Response:
        if not self.settings.breakers:
            return await self._send(method, path, json, params, headers, limit)
        breaker = await self._breakers.get_breaker(self.name)
        async with breaker:
            return await self._send(method, path, json, params, headers, limit)

    async def _send(
        self,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        limit: httpx.Timeout | float,
    ) -> httpx.Response:
        timeout = limit if isinstance(limit, httpx.Timeout) else httpx.Timeout(limit)
        request = httpx.Request(
            method,
            self._base_url + path,
            json=json,
            params=params,
            headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
            response.request = request
        except httpx.TimeoutException:
            self._count("timeout")
            raise
        except httpx.TransportError:
            self._count("transport_error")
            raise
        if response.status_code >= 500:
            self._count("server_error")
            raise _ServerError(response)
        self._count("ok" if response.status_code < 400 else "client_error")
        return response

    def _count(self, outcome: str) -> None:
        DOWNSTREAM_REQUESTS.labels(self._service, self.name, outcome).inc()

    def _count_retry(self, state: RetryCallState) -> None:
        RETRIES.labels(self._service, self.name).inc()

    async def aclose(self) -> None:
        await self._transport.aclose()
