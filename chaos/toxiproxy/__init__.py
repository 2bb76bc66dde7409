"""faultline's embedded Toxiproxy-compatible fault proxy. It is a program of its own
(`python -m chaos.toxiproxy`) and imports nothing else of faultline; any Toxiproxy client
drives it, faultline's being `harness.toxiproxy.ToxiproxyClient`."""

from chaos.toxiproxy.server import EmbeddedToxiproxy, serve

__all__ = ["EmbeddedToxiproxy", "serve"]
