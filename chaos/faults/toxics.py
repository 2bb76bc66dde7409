"""Toxics as values: what a fault on an edge does, independent of the server that applies it.

The standard types are Toxiproxy 2.x's own. `http_error` and `http_latency` are the embedded
server's HTTP-level extensions; a real Toxiproxy has no such types, and the client refuses them
with a clear message instead of letting the server fail obscurely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Stream = Literal["downstream", "upstream"]
HTTP_EXTENSIONS = frozenset({"http_error", "http_latency"})


@dataclass(frozen=True)
class Toxic:
    type: str
    attributes: dict[str, Any] = field(default_factory=dict)
    stream: Stream = "downstream"
    toxicity: float = 1.0

    @property
    def extension(self) -> bool:
        """True for the embedded server's HTTP-level types (not in a real Toxiproxy)."""
        return self.type in HTTP_EXTENSIONS

    def describe(self) -> str:
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(self.attributes.items()))
        share = "" if self.toxicity >= 1.0 else f" on {self.toxicity:.0%} of connections"
        return f"{self.type}({attrs}) {self.stream}{share}"


def latency(ms: int, jitter_ms: int = 0, *, stream: Stream = "downstream") -> Toxic:
    """Delay every chunk of data by `ms` (± `jitter_ms`)."""
    return Toxic("latency", {"latency": ms, "jitter": jitter_ms}, stream)


def reset_peer(after_ms: int = 0, *, toxicity: float = 1.0) -> Toxic:
    """Reset the connection (TCP RST) `after_ms` after it opens."""
    return Toxic("reset_peer", {"timeout": after_ms}, "downstream", toxicity)


def blackhole() -> Toxic:
    """Accept connections and swallow their data forever: the caller hears nothing."""
    return Toxic("timeout", {"timeout": 0}, "upstream")


def cut_after(ms: int) -> Toxic:
    """Stop passing data and close the connection `ms` after it opens."""
    return Toxic("timeout", {"timeout": ms}, "upstream")


def bandwidth(kb_per_s: int, *, stream: Stream = "downstream") -> Toxic:
    return Toxic("bandwidth", {"rate": kb_per_s}, stream)


def slow_close(delay_ms: int) -> Toxic:
    return Toxic("slow_close", {"delay": delay_ms}, "downstream")


def slicer(average_size: int, size_variation: int = 0, delay_us: int = 0) -> Toxic:
    attrs = {"average_size": average_size, "size_variation": size_variation, "delay": delay_us}
    return Toxic("slicer", attrs, "downstream")


def limit_data(bytes_: int, *, stream: Stream = "downstream") -> Toxic:
    """Close the connection after `bytes_` bytes in `stream`."""
    return Toxic("limit_data", {"bytes": bytes_}, stream)


def http_error(
    status: int = 503, *, share: float = 1.0, body: str = "", method: str = "", path: str = ""
) -> Toxic:
    """Answer a share of HTTP requests with `status`, never reaching the service (extension).

    `path` is a regular expression; `method` and `path` narrow which requests are hit.
    """
    attrs: dict[str, Any] = {"status": status}
    attrs |= {k: v for k, v in (("body", body), ("method", method), ("path", path)) if v}
    return Toxic("http_error", attrs, "upstream", share)


def http_latency(ms: int, *, jitter_ms: int = 0, method: str = "", path: str = "") -> Toxic:
    """Delay only the HTTP requests whose method / path (a regular expression) match."""
    attrs: dict[str, Any] = {"latency": ms, "jitter": jitter_ms}
    attrs |= {k: v for k, v in (("method", method), ("path", path)) if v}
    return Toxic("http_latency", attrs, "upstream")
