"""`http_latency` (faultline extension): a matching HTTP request is held latency +/- jitter ms
before it goes on to the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.toxiproxy.state import ToxicState
from chaos.toxiproxy.toxics.base import RequestToxic, attribute, jittered, register

if TYPE_CHECKING:
    import h11

    from chaos.toxiproxy.connection import Direction
    from chaos.toxiproxy.http_faults import HttpStage


@register("http_latency")
@dataclass
class HttpLatencyToxic(RequestToxic):
    latency: int = attribute("int64")
    jitter: int = attribute("int64")
    method: str = attribute("string", "")
    path: str = attribute("string", "")

    async def act(
        self, d: Direction, state: ToxicState, stage: HttpStage, request: h11.Request
    ) -> None:
        await d.sleep_for(state, jittered(d.rng, self.latency, self.jitter) / 1000)
        return None
