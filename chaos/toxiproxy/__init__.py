"""faultline's embedded Toxiproxy-compatible fault proxy. It is a program of its own
(`python -m chaos.toxiproxy`) and imports nothing else of faultline; any Toxiproxy client
drives it, faultline's being `harness.toxiproxy.ToxiproxyClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaos.toxiproxy.server import EmbeddedToxiproxy, serve

__all__ = ["EmbeddedToxiproxy", "serve"]


def __getattr__(name: str) -> Any:
    # The server (uvicorn, Starlette, the data path) loads on first use, so that
    # `faultline --help`, which lists the `toxiproxy` command, does not pay for it.
    if name in __all__:
        from chaos.toxiproxy import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
