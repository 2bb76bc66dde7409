"""`noop`: passes everything through unchanged (Toxiproxy's toxics/noop.go)."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.toxiproxy.toxics.base import ToxicKind, register


@register("noop")
@dataclass
class NoopToxic(ToxicKind):
    """No attributes and no effect: the base class's hooks already pass data on untouched."""
