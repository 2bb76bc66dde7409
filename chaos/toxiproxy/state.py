"""Per-connection toxic state, shared by the data path and the toxics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaos.toxiproxy.toxics.base import Toxic


class CloseConnection(Exception):
    """Raised by a toxic to end the connection once what it let through is written."""


@dataclass(eq=False)
class ToxicState:
    """What one toxic remembers for one direction of one connection.

    A toxic type that needs more (a byte count, a pending sleep) declares a subclass.
    """

    toxic: Toxic
    active: bool  # the toxicity draw for this connection and direction
    timer: asyncio.TimerHandle | None = None
