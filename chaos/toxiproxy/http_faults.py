"""HTTP-level faults (faultline extensions): `http_error` and `http_latency`.

They act on the upstream (client -> server) stream of an HTTP/1.1 edge. h11 finds where each
request ends; the request's bytes are forwarded unchanged, delayed (`http_latency`) or replaced
by a made-up response that never reaches the server (`http_error`). Keep-alive keeps working
because the made-up response is framed by h11 like any other. Bytes that are not HTTP (or a
protocol switch such as CONNECT or Upgrade) turn the stage into a plain pass-through for the
rest of the connection. Clients are expected not to pipeline requests (none of the suite does).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import TYPE_CHECKING

import h11

from chaos.toxiproxy.effects import jittered
from chaos.toxiproxy.toxics import Toxic

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction

MAX_BUFFERED = 8 * 1024 * 1024  # a request larger than this is passed through unparsed


def matches(toxic: Toxic, method: str, target: str) -> bool:
    wanted = toxic.attributes["method"]
    if wanted and wanted.upper() != method:
        return False
    pattern = toxic.attributes["path"]
    return not pattern or re.search(pattern, target) is not None


def render_error(parser: h11.Connection, request: h11.Request, toxic: Toxic) -> tuple[bytes, bool]:
    """The response bytes and whether the connection must close after them."""
    attrs = toxic.attributes
    status = attrs["status"]
    body = attrs["body"].encode()
    try:
        reason = HTTPStatus(status).phrase.encode()
    except ValueError:
        reason = b""
    headers = [
        ("Content-Type", attrs["content_type"]),
        ("Content-Length", str(len(body))),
        ("X-Faultline-Toxic", toxic.name),
    ]
    out = parser.send(h11.Response(status_code=status, headers=headers, reason=reason)) or b""
    if body and request.method != b"HEAD":
        out += parser.send(h11.Data(data=body)) or b""
    out += parser.send(h11.EndOfMessage()) or b""
    return out, parser.our_state is h11.MUST_CLOSE


def _switches_protocol(request: h11.Request) -> bool:
    return request.method == b"CONNECT" or any(name == b"upgrade" for name, _ in request.headers)


class HttpStage:
    def __init__(self) -> None:
        self.raw = bytearray()
        self.parser = h11.Connection(h11.SERVER)
        self.request: h11.Request | None = None
        self.passthrough = False

    @property
    def buffered(self) -> bool:
        return bool(self.raw)

    def take(self) -> bytes:
        data = bytes(self.raw)
        self.raw.clear()
        return data

    async def feed(self, d: Direction, data: bytes, toxics: list[Toxic]) -> AsyncIterator[bytes]:
        """Yield the bytes to forward, request by request, applying the toxics on the way."""
        if self.passthrough:
            if self.raw:
                yield self.take()
            yield data
            return
        self.raw += data
        self.parser.receive_data(data)
        while True:
            try:
                event = self.parser.next_event()
            except h11.RemoteProtocolError:
                self.passthrough = True
                yield self.take()
                return
            if event is h11.NEED_DATA:
                if len(self.raw) > MAX_BUFFERED:
                    self.passthrough = True
                    yield self.take()
                return
            if isinstance(event, h11.Request):
                self.request = event
            elif isinstance(event, h11.EndOfMessage) and self.request is not None:
                leftover = self.parser.trailing_data[0]
                size = len(self.raw) - len(leftover)
                raw = bytes(self.raw[:size])
                del self.raw[:size]
                request, parser = self.request, self.parser
                self.request, self.parser = None, h11.Connection(h11.SERVER)
                if leftover:
                    self.parser.receive_data(leftover)
                if not await self._fault(d, request, parser, toxics):
                    yield raw
                if _switches_protocol(request):
                    self.passthrough = True
                    if self.raw:
                        yield self.take()
                    return
            elif not isinstance(event, h11.Data):
                # ConnectionClosed or PAUSED: nothing more to parse in this chunk.
                return

    async def _fault(
        self, d: Direction, request: h11.Request, parser: h11.Connection, toxics: list[Toxic]
    ) -> bool:
        """Apply matching toxics in order; True when the request was answered here."""
        method = request.method.decode("ascii", "replace").upper()
        target = request.target.decode("latin-1")
        for toxic in toxics:
            if toxic not in d.states or not matches(toxic, method, target):
                continue
            if d.rng.random() >= toxic.toxicity:
                continue
            d.proxy.stats.activated(toxic)
            if toxic.type == "http_latency":
                delay = jittered(d.rng, toxic.attributes["latency"], toxic.attributes["jitter"])
                await d.sleep_for(toxic, delay / 1000)
            elif toxic.type == "http_error":
                response, close = render_error(parser, request, toxic)
                d.conn.inject_response(response, close)
                return True
        return False
