"""`SuiteClient` (sync) and `AsyncSuiteClient`: the same operations, run over httpx.

Each operation is written once in `operations` as a function that describes its call; the
classes below bind each of them to their own way of running a call (`run` raises
`SuiteError` on anything but an expected answer, `answer` never raises). Only `run`,
`answer` and the waits are written per class: they are the transport."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar

import httpx
from tenacity import AsyncRetrying, Retrying

from . import operations as ops
from .calls import Addressing, Call, Direct, HttpRequest, Public, answer_from, build_request
from .calls import result_of as _result_of
from .models import Answer, Booking
from .polling import SETTLE_TIMEOUT_S, booking_polling, settled, terminal
from .slots import SlotAllocator

P = ParamSpec("P")
T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

DEFAULT_TIMEOUT_S = 15.0
# Dozens of bookings in flight from one client, past the gateway's own bound.
DEFAULT_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=64)


class StackLike(Protocol):
    """What `for_stack` reads of a stack (`harness.stack.Stack`)."""

    @property
    def gateway_url(self) -> str: ...

    @property
    def services(self) -> list[str]: ...

    def url(self, service: str) -> str: ...


class ClientCore(Generic[H]):
    """What both clients share: addressing, token, slots, and turning calls into requests."""

    _http_class: type[H]

    def __init__(
        self,
        addressing: Addressing,
        *,
        http: H | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        limits: httpx.Limits | None = None,
        token: str | None = None,
        slots: SlotAllocator | None = None,
    ) -> None:
        self.addressing = addressing
        self.token = token
        self.slots = slots or SlotAllocator()
        # A caller's own httpx client is used as is and left open.
        self._owns_http = http is None
        self.http: H = http or self._http_class(timeout=timeout, limits=limits or DEFAULT_LIMITS)

    @classmethod
    def public(cls, gateway_url: str, **options: Any) -> Self:
        """Through the gateway (`/api/...`); call `login()` for a token, or pass `token=`."""
        return cls(Public(gateway_url), **options)

    @classmethod
    def direct(cls, urls: Mapping[str, str], **options: Any) -> Self:
        """Each operation to its service's own URL (`{"bookings": url, ...}`)."""
        return cls(Direct(dict(urls)), **options)

    @classmethod
    def for_stack(cls, stack: StackLike, *, public: bool = True, **options: Any) -> Self:
        if public:
            return cls.public(stack.gateway_url, **options)
        return cls.direct({name: stack.url(name) for name in stack.services}, **options)

    @property
    def is_public(self) -> bool:
        return self.addressing.public

    def _request(self, call: Call[Any]) -> HttpRequest:
        return build_request(call, self.addressing, self.token)

    def _received(
        self, call: Call[T], outcome: httpx.Response | httpx.HTTPError, started: float
    ) -> Answer[T]:
        answer = answer_from(call, outcome, time.monotonic() - started)
        if answer.ok and call.keep is not None:
            call.keep(self, answer.value)  # type: ignore[arg-type]
        return answer

    def _result(self, call: Call[T], answer: Answer[T]) -> T:
        return _result_of(call, answer, self.addressing)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.addressing!r})"


def _like(operation: Any, build: Callable[..., Call[Any]]) -> Any:
    """`operation` named, documented and signed as the operation `build` describes."""
    operation.__name__ = operation.__qualname__ = build.__name__
    operation.__doc__ = build.__doc__
    signature = inspect.signature(build)
    operation.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)
    return operation


def _bind(build: Callable[..., Call[Any]], run: str) -> Any:
    """A client method that describes the call with `build` and hands it to `run`."""

    def operation(self: ClientCore[Any], /, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, run)(build(self, *args, **kwargs))

    return _like(operation, build)


def _bind_async(build: Callable[..., Call[Any]], run: str) -> Any:
    """The same, as a coroutine function (asyncio tooling and tenacity look for one)."""

    async def operation(self: ClientCore[Any], /, *args: Any, **kwargs: Any) -> Any:
        return await getattr(self, run)(build(self, *args, **kwargs))

    return _like(operation, build)


Build = Callable[Concatenate[Any, P], Call[T]]


def _raising(build: Build[P, T]) -> Callable[Concatenate[SuiteClient, P], T]:
    return _bind(build, "run")


def _answering(build: Build[P, T]) -> Callable[Concatenate[SuiteClient, P], Answer[T]]:
    return _bind(build, "answer")


def _raising_async(build: Build[P, T]) -> Callable[Concatenate[AsyncSuiteClient, P], Awaitable[T]]:
    return _bind_async(build, "run")


def _answering_async(
    build: Build[P, T],
) -> Callable[Concatenate[AsyncSuiteClient, P], Awaitable[Answer[T]]]:
    return _bind_async(build, "answer")


class SuiteClient(ClientCore[httpx.Client]):
    """The suite's API, blocking. Operations raise `SuiteError`; `try_*` and `send` return
    an `Answer` whatever happened."""

    _http_class = httpx.Client

    def answer(self, call: Call[T]) -> Answer[T]:
        request = self._request(call)
        started = time.monotonic()
        try:
            outcome: httpx.Response | httpx.HTTPError = self.http.request(
                **request.httpx_arguments()
            )
        except httpx.HTTPError as exc:
            outcome = exc
        return self._received(call, outcome, started)

    def run(self, call: Call[T]) -> T:
        return self._result(call, self.answer(call))

    def wait_terminal(
        self, booking_ids: Iterable[str], timeout: float = SETTLE_TIMEOUT_S
    ) -> dict[str, Booking]:
        """Each booking once its saga reached an outcome, or as last read at the timeout
        (absent: never read)."""
        return self._wait(booking_ids, terminal, timeout)

    def wait_settled(
        self, booking_ids: Iterable[str], timeout: float = SETTLE_TIMEOUT_S
    ) -> dict[str, Booking]:
        """Like `wait_terminal`, and until nothing is left to do (a cancellation's refund)."""
        return self._wait(booking_ids, settled, timeout)

    def _wait(
        self, booking_ids: Iterable[str], done: Callable[[Booking], bool], timeout: float
    ) -> dict[str, Booking]:
        policy = booking_polling(done, time.monotonic() + timeout)
        seen = {i: Retrying(**policy)(self.booking, i) for i in dict.fromkeys(booking_ids)}
        return {i: b for i, b in seen.items() if b is not None}

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    login = _raising(ops.login)
    create_user = _raising(ops.create_user)
    get_user = _raising(ops.get_user)
    create_facility = _raising(ops.create_facility)
    facilities = _raising(ops.facilities)
    facility = _raising(ops.facility)
    availability = _raising(ops.availability)
    book = _raising(ops.book)
    booking = _raising(ops.booking)
    cancel = _raising(ops.cancel)
    booking_details = _raising(ops.booking_details)
    bookings = _raising(ops.bookings)
    notifications = _raising(ops.notifications)
    reservation = _raising(ops.reservation)
    charge = _raising(ops.charge)
    metrics = _raising(ops.metrics)
    try_create_user = _answering(ops.create_user)
    try_create_facility = _answering(ops.create_facility)
    try_facilities = _answering(ops.facilities)
    try_book = _answering(ops.book)
    try_booking = _answering(ops.booking)
    try_cancel = _answering(ops.cancel)
    try_booking_details = _answering(ops.booking_details)
    send = _answering(ops.send)


class AsyncSuiteClient(ClientCore[httpx.AsyncClient]):
    """The suite's API for asyncio: every operation of `SuiteClient`, awaited."""

    _http_class = httpx.AsyncClient

    async def answer(self, call: Call[T]) -> Answer[T]:
        request = self._request(call)
        started = time.monotonic()
        try:
            outcome: httpx.Response | httpx.HTTPError = await self.http.request(
                **request.httpx_arguments()
            )
        except httpx.HTTPError as exc:
            outcome = exc
        return self._received(call, outcome, started)

    async def run(self, call: Call[T]) -> T:
        return self._result(call, await self.answer(call))

    # The waits' timeout ends the polling and returns what was read so far, which an
    # asyncio.timeout around them (ASYNC109's advice) would throw away.
    async def wait_terminal(
        self,
        booking_ids: Iterable[str],
        timeout: float = SETTLE_TIMEOUT_S,  # noqa: ASYNC109
    ) -> dict[str, Booking]:
        """All bookings polled at once; see `SuiteClient.wait_terminal`."""
        return await self._wait(booking_ids, terminal, timeout)

    async def wait_settled(
        self,
        booking_ids: Iterable[str],
        timeout: float = SETTLE_TIMEOUT_S,  # noqa: ASYNC109
    ) -> dict[str, Booking]:
        return await self._wait(booking_ids, settled, timeout)

    async def _wait(
        self,
        booking_ids: Iterable[str],
        done: Callable[[Booking], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> dict[str, Booking]:
        policy = booking_polling(done, time.monotonic() + timeout)
        ids = list(dict.fromkeys(booking_ids))
        seen: list[Booking | None] = await asyncio.gather(
            *(AsyncRetrying(**policy)(self.booking, i) for i in ids)
        )
        return {i: b for i, b in zip(ids, seen, strict=True) if b is not None}

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    login = _raising_async(ops.login)
    create_user = _raising_async(ops.create_user)
    get_user = _raising_async(ops.get_user)
    create_facility = _raising_async(ops.create_facility)
    facilities = _raising_async(ops.facilities)
    facility = _raising_async(ops.facility)
    availability = _raising_async(ops.availability)
    book = _raising_async(ops.book)
    booking = _raising_async(ops.booking)
    cancel = _raising_async(ops.cancel)
    booking_details = _raising_async(ops.booking_details)
    bookings = _raising_async(ops.bookings)
    notifications = _raising_async(ops.notifications)
    reservation = _raising_async(ops.reservation)
    charge = _raising_async(ops.charge)
    metrics = _raising_async(ops.metrics)
    try_create_user = _answering_async(ops.create_user)
    try_create_facility = _answering_async(ops.create_facility)
    try_facilities = _answering_async(ops.facilities)
    try_book = _answering_async(ops.book)
    try_booking = _answering_async(ops.booking)
    try_cancel = _answering_async(ops.cancel)
    try_booking_details = _answering_async(ops.booking_details)
    send = _answering_async(ops.send)
