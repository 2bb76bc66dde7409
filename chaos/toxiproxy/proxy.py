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

from chaos.toxiproxy import addresses
from chaos.toxiproxy.connection import Connection
from chaos.toxiproxy.errors import (
    ApiError,
    bad_request,
    missing_field,
    proxy_exists,
    proxy_not_found,
    toxic_exists,
    toxic_not_found,
)
from chaos.toxiproxy.toxics import DOWNSTREAM, UPSTREAM, Toxic, parse_new_toxic, parse_update

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 30.0
DEFAULT_LISTEN = "127.0.0.1:0"


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
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self._chains: dict[str, list[Toxic]] = {UPSTREAM: [], DOWNSTREAM: []}
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
            "toxics": [t.to_json() for t in self.toxic_list()],
        }

    def toxic_list(self) -> list[Toxic]:
        # Toxiproxy lists the upstream chain first, then the downstream one.
        return self._chains[UPSTREAM] + self._chains[DOWNSTREAM]

    def chain(self, stream: str) -> list[Toxic]:
        return self._chains[stream]

    # ---- listener ------------------------------------------------------------------------
    def start(self) -> None:
        if self.enabled:
            return
        host, port = addresses.split(self.listen, "listen")
        try:
            sock = addresses.bind_listener(addresses.listen_host(host), port)
        except socket.gaierror as exc:
            raise bad_request(f"listen host {host!r} does not resolve: {exc.strerror}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            # Toxiproxy answers 500 with the OS error here; clients (toxiproxy-python among
            # them) rely on that, so parity wins over a tidier 4xx.
            raise ApiError(f"listen tcp {self.listen}: bind: {reason.lower()}", 500) from None
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
        except (OSError, TimeoutError, ApiError) as exc:
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

    # ---- toxics ----------------------------------------------------------------------
    def find_toxic(self, name: str) -> Toxic:
        toxic = self.toxics.get(name)
        if toxic is None:
            raise toxic_not_found()
        return toxic

    def add_toxic(self, body: object) -> Toxic:
        toxic = parse_new_toxic(body)
        if toxic.name in self.toxics:
            raise toxic_exists()
        self.toxics[toxic.name] = toxic
        self._chains[toxic.stream] = [*self._chains[toxic.stream], toxic]
        for conn in list(self.connections):
            conn.direction(toxic.stream).toxic_added(toxic)
        return toxic

    def update_toxic(self, name: str, body: object) -> Toxic:
        toxic = self.find_toxic(name)
        attributes, toxicity = parse_update(toxic, body)
        changed = toxicity != toxic.toxicity
        toxic.attributes, toxic.toxicity = attributes, toxicity
        for conn in list(self.connections):
            conn.direction(toxic.stream).toxic_updated(toxic, changed)
        return toxic

    def remove_toxic(self, name: str) -> None:
        toxic = self.find_toxic(name)
        del self.toxics[name]
        self._chains[toxic.stream] = [t for t in self._chains[toxic.stream] if t is not toxic]
        for conn in list(self.connections):
            conn.direction(toxic.stream).toxic_removed(toxic)

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)


async def _connect(loop: asyncio.AbstractEventLoop, upstream: str) -> socket.socket:
    host, port = addresses.split(upstream, "upstream")
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
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


def _proxy_fields(body: object, index: int | None = None) -> tuple[str, str, str, bool]:
    where = "" if index is None else f" at proxy {index}"
    if not isinstance(body, dict):
        raise bad_request(f"expected a JSON object{where}")
    fields: dict[str, str] = {}
    for key, default in (("name", ""), ("upstream", ""), ("listen", "")):
        value = body.get(key, default)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise bad_request(f"{key}{where} must be a string")
        fields[key] = value
    enabled = body.get("enabled", True)
    if enabled is None:
        enabled = True
    if not isinstance(enabled, bool):
        raise bad_request(f"enabled{where} must be true or false")
    for key in ("name", "upstream"):
        if not fields[key]:
            raise missing_field(key + where)
    listen = fields["listen"] or DEFAULT_LISTEN
    addresses.split(listen, "listen")
    addresses.split(fields["upstream"], "upstream")
    return fields["name"], _normal_listen(listen), fields["upstream"], enabled


def _normal_listen(listen: str) -> str:
    host, port = addresses.split(listen, "listen")
    return addresses.join(addresses.listen_host(host), port)


class ProxyCollection:
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

    def create(self, body: object) -> Proxy:
        name, listen, upstream, enabled = _proxy_fields(body)
        if name in self.proxies:
            raise proxy_exists()
        proxy = Proxy(self, name, listen, upstream)
        if enabled:
            proxy.start()
        self.proxies[name] = proxy
        return proxy

    def update(self, name: str, body: object) -> Proxy:
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        merged = {
            "name": proxy.name,
            "listen": proxy.listen,
            "upstream": proxy.upstream,
            "enabled": proxy.enabled,
        }
        # Like Go's decoder, absent or null fields keep the proxy's current values.
        merged.update(
            {k: v for k, v in body.items() if k in merged and k != "name" and v is not None}
        )
        _, listen, upstream, enabled = _proxy_fields(merged)
        if listen != proxy.listen or upstream != proxy.upstream:
            proxy.stop()
            proxy.listen, proxy.upstream = listen, upstream
        if enabled and not proxy.enabled:
            proxy.start()
        elif not enabled:
            proxy.stop()
        return proxy

    def delete(self, name: str) -> None:
        self.get(name).stop()
        del self.proxies[name]

    def populate(self, body: object) -> list[Proxy]:
        """Create or replace many proxies; all are validated before any changes."""
        if not isinstance(body, list):
            raise bad_request("expected a JSON array of proxies")
        wanted = [_proxy_fields(item, i + 1) for i, item in enumerate(body)]
        names = [w[0] for w in wanted]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise bad_request(f"duplicate proxy name {sorted(duplicates)[0]!r}")
        result = []
        for name, listen, upstream, enabled in wanted:
            existing = self.proxies.get(name)
            if existing is not None:
                if existing.listen == listen and existing.upstream == upstream:
                    result.append(existing)
                    continue
                self.delete(name)
            proxy = Proxy(self, name, listen, upstream)
            if enabled:
                proxy.start()
            self.proxies[name] = proxy
            result.append(proxy)
        return result

    def reset(self) -> None:
        """Enable every proxy again and remove every toxic."""
        for proxy in self.sorted():
            proxy.start()
            proxy.remove_all_toxics()

    def close(self) -> None:
        for proxy in list(self.proxies.values()):
            proxy.stop()
