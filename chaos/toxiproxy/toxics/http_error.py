"""`http_error` (faultline extension): a matching HTTP request is answered with a made-up
response and never reaches the server."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import h11

from chaos.toxiproxy.errors import bad_request
from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import RequestToxic, attribute, register

if TYPE_CHECKING:
    from chaos.toxiproxy.connection import Direction
    from chaos.toxiproxy.http_faults import HttpStage


@register("http_error")
@dataclass
class HttpErrorToxic(RequestToxic):
    status: int = attribute("int64", 503)
    body: str = attribute("string", "")
    content_type: str = attribute("string", "text/plain; charset=utf-8")
    method: str = attribute("string", "")
    path: str = attribute("string", "")

    def check(self, values: dict[str, Any], direction: str) -> None:
        super().check(values, direction)
        if not 200 <= values["status"] <= 599:
            raise bad_request("attribute status must be between 200 and 599")

    async def act(
        self, d: Direction, state: ToxicState, stage: HttpStage, request: h11.Request
    ) -> tuple[bytes, bool]:
        """The response bytes, framed by the stage's parser, and whether to close after them."""
        parser = stage.parser
        body = self.body.encode()
        try:
            reason = HTTPStatus(self.status).phrase.encode()
        except ValueError:
            reason = b""
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(body))),
            ("X-Faultline-Toxic", state.toxic.name),
        ]
        out = parser.send(h11.Response(status_code=self.status, headers=headers, reason=reason))
        out = out or b""
        if body and request.method != b"HEAD":
            out += parser.send(h11.Data(data=body)) or b""
        out += parser.send(h11.EndOfMessage()) or b""
        return out, parser.our_state is h11.MUST_CLOSE
