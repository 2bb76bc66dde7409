"""A call described once, whatever runs it: where it goes in each addressing mode, what it
sends, which statuses it expects and how its body is read. The sync and async clients only
put the described request on the wire (`build_request`) and hand the outcome back
(`answer_from`, `result_of`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import httpx
from pydantic import ValidationError

from .errors import AddressingError, SuiteError
from .models import Answer

if TYPE_CHECKING:
    from .client import ClientCore

T = TypeVar("T")
PUBLIC_PREFIX = "/api"


def _body(body: Any) -> Any:
    return body


@dataclass(frozen=True)
class Payload:
    """What a request carries besides its method and URL."""

    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None  # a form
    content: bytes | None = None  # bytes as they are, e.g. a malformed body on purpose
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None  # the client's own when None


@dataclass(frozen=True)
class Call(Generic[T]):
    """One operation of the suite.

    `path` is the owning service's internal route and `public` its route on the gateway
    (under `/api`); either is None where that side has no such route. A raw call (`raw=True`)
    goes to `path` on the named service's base URL in either mode."""

    method: str
    service: str
    path: str | None
    public: str | None
    parse: Callable[[Any], T] = _body
    expect: frozenset[int] = frozenset({200})
    payload: Payload = field(default_factory=Payload)
    anonymous: bool = False  # sent without the bearer token
    raw: bool = False
    # Run on the client once the call succeeded (login keeps its token this way).
    keep: Callable[[ClientCore, T], None] | None = None


@dataclass(frozen=True)
class HttpRequest:
    """What goes on the wire, for any HTTP client."""

    method: str
    url: str
    payload: Payload

    def httpx_arguments(self) -> dict[str, Any]:
        sent = self.payload
        arguments: dict[str, Any] = {
            "method": self.method,
            "url": self.url,
            "params": sent.params,
            "json": sent.json,
            "data": sent.data,
            "content": sent.content,
            "headers": dict(sent.headers),
        }
        if sent.timeout is not None:
            arguments["timeout"] = sent.timeout
        return arguments


class Addressing(Protocol):
    @property
    def public(self) -> bool: ...

    def base_url(self, service: str) -> str: ...

    def url(self, call: Call[Any]) -> str: ...


@dataclass(frozen=True)
class Public:
    """Through the gateway: `/api` + the public route, with a bearer token."""

    gateway_url: str
    public: bool = field(default=True, init=False)

    def base_url(self, service: str) -> str:
        if service != "gateway":
            raise AddressingError(f"a public client reaches only the gateway, not {service}")
        return self.gateway_url.rstrip("/")

    def url(self, call: Call[Any]) -> str:
        if call.raw:
            return f"{self.base_url(call.service)}{call.path}"
        if call.public is None:
            raise AddressingError(
                f"{call.method} {call.path} of {call.service} has no public route; "
                "use a direct client"
            )
        return f"{self.base_url('gateway')}{PUBLIC_PREFIX}{call.public}"


@dataclass(frozen=True)
class Direct:
    """Each call to the owning service's own URL and internal route."""

    urls: Mapping[str, str]
    public: bool = field(default=False, init=False)

    def base_url(self, service: str) -> str:
        try:
            return self.urls[service].rstrip("/")
        except KeyError:
            known = ", ".join(sorted(self.urls)) or "none"
            raise AddressingError(f"no URL for {service} (known: {known})") from None

    def url(self, call: Call[Any]) -> str:
        if call.path is None:
            raise AddressingError(
                f"{call.method} /api{call.public} is served only by the gateway; "
                "use a public client"
            )
        return f"{self.base_url(call.service)}{call.path}"


def describe(call: Call[Any], addressing: Addressing) -> str:
    """`METHOD path` as this addressing sends it, for error messages."""
    if call.raw or not addressing.public:
        return f"{call.method} {call.path} ({call.service})"
    return f"{call.method} {PUBLIC_PREFIX}{call.public}"


def build_request(call: Call[Any], addressing: Addressing, token: str | None) -> HttpRequest:
    sent = call.payload
    headers = dict(sent.headers)
    if token and not call.anonymous:
        headers["Authorization"] = f"Bearer {token}"
    # Unset filters are left out rather than sent empty.
    params = {k: v for k, v in sent.params.items() if v is not None} if sent.params else None
    return HttpRequest(
        call.method, addressing.url(call), replace(sent, params=params, headers=headers)
    )


def decode(response: httpx.Response) -> Any:
    """JSON when the answer says it is JSON (and is), its text otherwise, None when empty."""
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


def answer_from(
    call: Call[T], outcome: httpx.Response | httpx.HTTPError, seconds: float
) -> Answer[T]:
    """The answer to `call`, parsed when its status is one the call expects."""
    if isinstance(outcome, httpx.HTTPError):
        return Answer(None, None, seconds, f"{type(outcome).__name__}: {outcome}")
    body = decode(outcome)
    status, headers = outcome.status_code, outcome.headers
    if status not in call.expect:
        return Answer(status, body, seconds, headers=headers)
    try:
        value = call.parse(body)
    except (ValidationError, ValueError, TypeError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Answer(status, body, seconds, f"unexpected body: {reason}", headers)
    return Answer(status, body, seconds, headers=headers, value=value, ok=True)


def result_of(call: Call[T], answer: Answer[T], addressing: Addressing) -> T:
    """The parsed value of an expected answer; SuiteError for anything else."""
    if not answer.ok:
        raise SuiteError(describe(call, addressing), answer)
    return cast(T, answer.value)
