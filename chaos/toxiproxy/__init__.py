"""faultline's embedded Toxiproxy-compatible fault proxy and a client for any Toxiproxy."""

from chaos.toxiproxy.client import EXTENSION_TOXIC_TYPES, ToxiproxyClient, ToxiproxyError
from chaos.toxiproxy.server import EmbeddedToxiproxy, serve

__all__ = [
    "EXTENSION_TOXIC_TYPES",
    "EmbeddedToxiproxy",
    "ToxiproxyClient",
    "ToxiproxyError",
    "serve",
]
