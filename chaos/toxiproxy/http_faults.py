"""The stage that lets per-request toxics (faultline's HTTP toxics) act on whole requests.

It runs on the upstream (client -> server) stream of an HTTP/1.1 edge. h11 finds where each
request starts and ends; its bytes stream on unchanged, delayed, or dropped and answered with
a response a toxic made up, so the request never reaches the server. Keep-alive keeps working
because the made-up response is framed by h11 like any other. Bytes
that are not HTTP (or a protocol switch such as CONNECT or Upgrade) turn the stage into a
plain pass-through for the rest of the connection. Clients are expected not to pipeline
requests (none of the suite's clients does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import h11

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction
    from chaos.toxiproxy.toxics import Toxic


def _switches_protocol(request: h11.Request) -> bool:
    return request.method == b"CONNECT" or any(name == b"upgrade" for name, _ in request.headers)


class HttpStage:
    def __init__(self) -> None:
        self.raw = bytearray()  # bytes received but not yet forwarded or dropped
        self.parser = h11.Connection(h11.SERVER)
        self.request: h11.Request | None = None
        self.answer: bytes | None = None  # the made-up response of the current request
        self._must_close = False
        self.passthrough = False

    @property
    def buffered(self) -> bool:
        return bool(self.raw)

    def take(self) -> bytes:
        data = bytes(self.raw)
        self.raw.clear()
        return data

    async def feed(self, d: Direction, data: bytes, toxics: list[Toxic]) -> AsyncIterator[bytes]:
        """Yield the bytes to forward, in order, applying the toxics request by request.

        Bytes stream through as they are parsed (a body is never buffered whole); the
        decision about a request is taken as soon as its head is complete.
        """
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
                return
            if not isinstance(event, h11.Request | h11.Data | h11.EndOfMessage):
                return  # ConnectionClosed or PAUSED: nothing more to parse here
            if isinstance(event, h11.Request):
                self.request = event
                self.answer = await self._decide(d, event, toxics)
                if self.answer is not None and _expects_continue(event):
                    # The client waits for a go-ahead before sending the body: answer now.
                    d.conn.inject_response(self.answer, True)
                    self.passthrough = True
            consumed = len(self.raw) - len(self.parser.trailing_data[0])
            if self.answer is None:
                yield bytes(self.raw[:consumed])
            del self.raw[:consumed]
            if self.passthrough:
                self.raw.clear()
                return
            if isinstance(event, h11.EndOfMessage):
                finished, self.request = self.request, None
                if self.answer is not None:
                    d.conn.inject_response(self.answer, self._must_close)
                    self.answer = None
                self.parser = h11.Connection(h11.SERVER)
                if self.raw:
                    self.parser.receive_data(bytes(self.raw))
                if finished is not None and _switches_protocol(finished):
                    self.passthrough = True
                    if self.raw:
                        yield self.take()
                    return

    async def _decide(
        self, d: Direction, request: h11.Request, toxics: list[Toxic]
    ) -> bytes | None:
        """Let the toxics act in order; the response one of them made up, if any."""
        for toxic in toxics:
            state = d.states.get(toxic)
            if state is None:
                continue
            answer = await toxic.kind.on_request(d, state, self, request)
            if answer is not None:
                response, self._must_close = answer
                return response
        return None


def _expects_continue(request: h11.Request) -> bool:
    return any(
        name == b"expect" and value.lower() == b"100-continue" for name, value in request.headers
    )
