"""Per-connection toxic state, shared by the data path and the toxics' effects."""

from __future__ import annotations

import asyncio


class CloseConnection(Exception):
    """Raised by a toxic to end the connection once what it let through is written."""


class ToxicState:
    """What one toxic remembers for one direction of one connection."""

    __slots__ = ("active", "count", "sleep", "timer", "triggered")

    def __init__(self, active: bool) -> None:
        self.active = active  # the toxicity draw for this connection and direction
        self.count = 0
        self.sleep = 0.0
        self.triggered = False
        self.timer: asyncio.TimerHandle | None = None
