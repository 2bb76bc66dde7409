"""Proxies and the collection the HTTP API manages, with Toxiproxy 2.x's rules.

Everything here runs on one event loop: the API handlers and the data path share it, so no
state needs a lock.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter
from random import Random
from typing import Any

from chaos.toxiproxy import addresses, gojson
from chaos.toxiproxy.connection import Connection
from chaos.toxiproxy.errors import ApiError, missing_field, proxy_exists, proxy_not_found
from chaos.toxiproxy.toxic_collection import ToxicCollection, read_json
from chaos.toxiproxy.toxics import DOWNSTREAM, UPSTREAM, Toxic

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 30.0

# How Toxiproxy's Go types read proxy JSON: its Proxy struct (whose exported `Logger` is part of
# its JSON, as `{}`), and the elements of /populate's list.
_LOGGER = gojson.Struct("Logger", "zerolog.Logger")
_PROXY_FIELDS: dict[str, str | gojson.Struct] = {
    "name": "string",
    "listen": "string",
    "upstream": "string",
    "enabled": "bool",
    "Logger": _LOGGER,
}
PROXY = gojson.Struct("Proxy", "toxiproxy.Proxy", _PROXY_FIELDS)
POPULATE_ITEM = gojson.Struct(
    "", 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }', _PROXY_FIELDS
)


def _decode(struct: gojson.Struct, raw: bytes, into: dict[str, Any]) -> None:
    try:
        struct.decode(read_json(raw), into)
    except gojson.DecodeError as exc:
        raise ApiError(f"bad request body: {exc}", 400) from None


class ProxyStats:
    """Counters of one proxy; live connections add their own bytes when scraped."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = {UPSTREAM: 0, DOWNSTREAM: 0}
        self.sent = {UPSTREAM: 0, DOWNSTREAM: 0}
        self.activations: Counter[tuple[str, str]] = Counter()

    def activated(self, toxic: Toxic) -> None:
        self.activations[(toxic.name, toxic.type)] += 1


class Proxy:
    def __init__(self, collection: ProxyCollection, name: str, listen: str, upstream: str) -> None:
        self.collection = collection
        self.loop = collection.loop
        self.name = name
        self.listen = listen  # as given until the proxy starts, then the address bound
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicCollection(self)
        self.connections: set[Connection] = set()
        self.stats = ProxyStats()
        self._listener: socket.socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0

    # ---- JSON ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},  # Toxiproxy's Proxy struct exports its logger, which encodes as {}
            "toxics": [t.to_json() for t in self.toxics.all()],
        }

    def toxic_list(self) -> list[Toxic]:
        return self.toxics.all()

    def chain(self, direction: str) -> list[Toxic]:
        return self.toxics.chain(direction)

    # ---- listener ------------------------------------------------------------------------
    def start(self) -> None:
        """Listen, as Toxiproxy does: any failure is its Go error, answered with a 500."""
        if self.enabled:
            return
        try:
            sock = addresses.listen(self.listen)
        except addresses.ListenError as exc:
            raise ApiError(str(exc), 500) from None
        self._listener = sock
        self.listen = addresses.bound(sock)
        self.enabled = True
        self.loop.add_reader(sock.fileno(), self._accept)

    def stop(self) -> None:
        """Close the listener and every connection, as Toxiproxy does for `enabled: false`."""
        if not self.enabled:
            return
        self.enabled = False
        if self._listener is not None:
            # Unregistered before closing, so a reused descriptor never meets this callback.
            self.loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self.connections):
            conn.close()

    def differs(self, listen: str, upstream: str) -> bool:
        """Toxiproxy's `Differs`: listen compared once resolved, so a host name that resolves
        to the address bound does not restart the proxy."""
        try:
            resolved = addresses.resolved_string(listen)
        except addresses.AddressError as exc:
            raise ApiError(str(exc), 500) from None
        return self.listen != resolved or self.upstream != upstream

    def update(self, listen: str, upstream: str, enabled: bool) -> None:
        if self.differs(listen, upstream):
            self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled != self.enabled:
            if enabled:
                self.start()
            else:
                self.stop()

    def _accept(self) -> None:
        listener = self._listener
        if listener is None:
            return
        for _ in range(64):
            try:
                client, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                # Out of file descriptors, most likely: pause instead of spinning.
                log.warning("proxy %s: accept failed: %s", self.name, exc)
                self.loop.remove_reader(listener.fileno())
                self.loop.call_later(0.05, self._resume_accepting, listener)
                return
            task = self.loop.create_task(self._open(client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume_accepting(self, listener: socket.socket) -> None:
        if self._listener is listener:
            self.loop.add_reader(listener.fileno(), self._accept)

    async def _open(self, client: socket.socket) -> None:
        seq = self._seq
        self._seq += 1
        upstream: socket.socket | None = None
        try:
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                upstream = await _connect(self.loop, self.upstream)
        except (OSError, TimeoutError, addresses.AddressError) as exc:
            log.info("proxy %s: upstream %s unavailable: %s", self.name, self.upstream, exc)
            client.close()
            return
        except BaseException:
            client.close()
            if upstream is not None:
                upstream.close()
            raise
        conn = Connection(self, client, upstream, self.collection.rngs(self.name, seq))
        self.connections.add(conn)
        self.stats.connections += 1
        try:
            conn.start()
        except OSError as exc:  # e.g. out of file descriptors for the pipes
            log.warning("proxy %s: cannot forward a connection: %s", self.name, exc)
            conn.close()

    def connection_closed(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            for d in (conn.up, conn.down):
                self.stats.received[d.stream] += d.received
                self.stats.sent[d.stream] += d.sent


async def _connect(loop: asyncio.AbstractEventLoop, upstream: str) -> socket.socket:
    host, service = addresses.split_host_port(upstream)
    port = addresses.parse_port(service)
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    error: OSError = OSError(f"cannot resolve {host}")
    for family, type_, proto, _, address in infos:
        sock = socket.socket(family, type_, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error


class ProxyCollection:
    """Every proxy of the server, with the rules of Toxiproxy's api.go and proxy_collection.go."""

    def __init__(self, loop: asyncio.AbstractEventLoop, seed: int | None = None) -> None:
        self.loop = loop
        self.seed = seed
        self.proxies: dict[str, Proxy] = {}

    def rngs(self, proxy: str, seq: int) -> tuple[Random, Random]:
        """One generator per connection and direction; derived from the seed when given."""
        if self.seed is None:
            return Random(), Random()
        return Random(f"{self.seed}/{proxy}/{seq}/{UPSTREAM}"), Random(
            f"{self.seed}/{proxy}/{seq}/{DOWNSTREAM}"
        )

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise proxy_not_found()
        return proxy

    def sorted(self) -> list[Proxy]:
        return [self.proxies[name] for name in sorted(self.proxies)]

    def create_json(self, raw: bytes) -> Proxy:
        values: dict[str, Any] = {"name": "", "listen": "", "upstream": "", "enabled": True}
        _decode(PROXY, raw, values)
        for key in ("name", "upstream"):
            if not values[key]:
                raise missing_field(key)
        if values["name"] in self.proxies:
            raise proxy_exists()
        proxy = Proxy(self, values["name"], values["listen"], values["upstream"])
        if values["enabled"]:
            proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    def update_json(self, name: str, raw: bytes) -> Proxy:
        proxy = self.get(name)
        values: dict[str, Any] = {
            "listen": proxy.listen,
            "upstream": proxy.upstream,
            "enabled": proxy.enabled,
        }
        _decode(PROXY, raw, values)
        proxy.update(values["listen"], values["upstream"], values["enabled"])
        return proxy

    def delete(self, name: str) -> None:
        self.get(name).stop()
        del self.proxies[name]

    def populate_json(self, raw: bytes) -> tuple[list[Proxy], ApiError | None]:
        """Create or replace proxies in order; stops at the first failure, keeping those made.

        Returns the proxies made or kept and the error that stopped it, as Toxiproxy answers
        both (`{"error", "status", "proxies"}`).
        """
        try:
            wanted = gojson.decode_list(read_json(raw), POPULATE_ITEM)
        except gojson.DecodeError as exc:
            return [], ApiError(f"bad request body: {exc}", 400)
        except ApiError as exc:
            return [], exc
        for i, item in enumerate(wanted, start=1):
            for key in ("name", "upstream"):
                if not item.get(key):
                    return [], missing_field(f"{key} at proxy {i}")
        result: list[Proxy] = []
        for item in wanted:
            try:
                result.append(
                    self._add_or_replace(
                        item["name"],
                        item.get("listen", ""),
                        item["upstream"],
                        item.get("enabled", True),
                    )
                )
            except ApiError as exc:
                return result, exc
        return result, None

    def _add_or_replace(self, name: str, listen: str, upstream: str, enabled: bool) -> Proxy:
        existing = self.proxies.get(name)
        if existing is not None:
            if not existing.differs(listen, upstream):
                return existing
            existing.stop()
        proxy = Proxy(self, name, listen, upstream)
        if enabled:
            proxy.start()
        self.proxies[name] = proxy
        return proxy

    def reset(self) -> None:
        """Enable every proxy again and remove every toxic; a proxy that cannot listen again
        stops the reset with its error, as in Toxiproxy."""
        for proxy in self.sorted():
            proxy.start()
            proxy.toxics.reset()

    def close(self) -> None:
        for proxy in list(self.proxies.values()):
            proxy.stop()
