"""`Faults`: inject network and process faults on a running stack, and always undo them.

Every fault is recorded with the action that undoes it before it is applied, so `heal()` (and
every context manager's exit, whatever ends the block: a failed assertion, Ctrl-C) restores the
stack: toxics removed, proxies re-enabled, paused services resumed, killed services restarted.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from chaos.faults.toxics import Toxic
from harness.errors import UserError
from harness.toxiproxy import ToxiproxyClient, ToxiproxyError

if TYPE_CHECKING:
    from harness.stack import Stack

log = logging.getLogger(__name__)


class FaultError(UserError):
    """A fault could not be applied (unknown edge, proxy server refused, real Toxiproxy asked
    for an extension toxic): one line saying which and why."""


class Faults:
    """Fault injection on one stack; use as a context manager or call `heal()` yourself.

    `seed` drives every random choice the caller makes through `self.random` (which edge,
    which moment), so a failing run can be replayed.
    """

    def __init__(
        self, stack: Stack, *, seed: int | None = None, client: ToxiproxyClient | None = None
    ) -> None:
        self.stack = stack
        self.topology = stack.topology
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.random = random.Random(self.seed)
        self.client = client or ToxiproxyClient(stack.toxiproxy_url)
        self.history: list[str] = []  # what was injected, in order, for reports
        self._undo: dict[int, tuple[str, Callable[[], None]]] = {}
        self._ids = itertools.count(1)
        atexit.register(self.heal)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _remember(self, what: str, undo: Callable[[], None]) -> int:
        key = next(self._ids)
        self._undo[key] = (what, undo)
        self.history.append(what)
        log.info("fault: %s", what)
        return key

    def _forget(self, key: int) -> None:
        entry = self._undo.pop(key, None)
        if entry is not None:
            entry[1]()

    @property
    def active(self) -> list[str]:
        return [what for what, _ in self._undo.values()]

    def heal(self) -> list[str]:
        """Undo every fault still active, newest first; return what could not be undone."""
        problems = []
        for key in sorted(self._undo, reverse=True):
            what, undo = self._undo.pop(key)
            try:
                undo()
            except Exception as exc:
                problems.append(f"could not undo {what}: {exc}")
        for problem in problems:
            log.warning(problem)
        return problems

    def close(self) -> list[str]:
        """Heal, then release the client; returns what could not be undone."""
        problems = self.heal()
        self.client.close()
        atexit.unregister(self.heal)
        return problems

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _edge(self, name: str) -> str:
        try:
            return self.topology.edge(name).proxy_name
        except UserError:
            known = ", ".join(e.proxy_name for e in self.topology.edges)
            raise FaultError(f"unknown edge {name!r} (edges: {known})") from None

    def edges(self, kind: str | None = None, *, source: str | None = None) -> list[str]:
        """Edge names of the topology, optionally of one kind or from one service."""
        return [
            e.proxy_name
            for e in self.topology.edges
            if (kind is None or e.kind == kind) and (source is None or e.source == source)
        ]

    # -- network faults ------------------------------------------------------------------------

    def add(self, edge: str, toxic: Toxic, *, name: str | None = None) -> int:
        """Apply `toxic` to `edge` until removed with `undo(key)` or `heal()`."""
        proxy = self._edge(edge)
        toxic_name = name or f"fl_{toxic.type}_{toxic.stream}_{next(self._ids)}"
        what = f"{toxic.describe()} on {proxy}"
        try:
            self.client.add_toxic(
                proxy,
                toxic.type,
                dict(toxic.attributes),
                stream=toxic.stream,
                toxicity=toxic.toxicity,
                name=toxic_name,
            )
        except ToxiproxyError as exc:
            raise FaultError(f"cannot inject {what}: {exc.message}") from None
        return self._remember(what, lambda: self._remove(proxy, toxic_name))

    def _remove(self, proxy: str, toxic_name: str) -> None:
        try:
            self.client.remove_toxic(proxy, toxic_name)
        except ToxiproxyError as exc:
            if exc.status != 404:  # already gone (a reset, or the proxy was replaced)
                raise

    def _enable(self, proxy: str, enabled: bool) -> None:
        try:
            self.client.update_proxy(proxy, enabled=enabled)
        except ToxiproxyError as exc:
            state = "enable" if enabled else "disable"
            raise FaultError(f"cannot {state} {proxy}: {exc.message}") from None

    def disable(self, *edges: str) -> list[int]:
        """Take edges down: listeners closed, open connections cut, new ones refused."""
        keys = []
        for edge in edges:
            proxy = self._edge(edge)
            self._enable(proxy, False)
            keys.append(self._remember(f"{proxy} down", lambda p=proxy: self._enable(p, True)))
        return keys

    def undo(self, *keys: int) -> None:
        for key in reversed(keys):
            self._forget(key)

    @contextlib.contextmanager
    def toxic(self, edge: str, toxic: Toxic, *, name: str | None = None) -> Iterator[None]:
        key = self.add(edge, toxic, name=name)
        try:
            yield
        finally:
            self.undo(key)

    @contextlib.contextmanager
    def down(self, *edges: str) -> Iterator[None]:
        keys: list[int] = []
        try:
            for edge in edges:
                keys += self.disable(edge)
            yield
        finally:
            self.undo(*keys)

    def broker_outage(self) -> contextlib.AbstractContextManager[None]:
        """Every service cut off from RabbitMQ."""
        return self.down(*self.edges("rabbitmq"))

    def database_outage(self, service: str) -> contextlib.AbstractContextManager[None]:
        return self.down(self._database_edge(service))

    def database_latency(self, service: str, ms: int) -> contextlib.AbstractContextManager[None]:
        from chaos.faults.toxics import latency

        return self.toxic(self._database_edge(service), latency(ms))

    def _database_edge(self, service: str) -> str:
        edges = self.edges("postgres", source=service)
        if not edges:
            raise UserError(f"service {service!r} has no database edge")
        return edges[0]

    # -- process faults ------------------------------------------------------------------------

    def kill(self, service: str) -> int:
        """SIGKILL the service; `heal()` (or `restart`) starts it again."""
        self.stack.kill(service)
        return self._remember(f"{service} killed", lambda: self.stack.restart(service))

    def restart(self, service: str, env: dict[str, str] | None = None) -> None:
        """Start the service again (after `kill`, or to apply `env`) and wait until ready."""
        for key, (what, _) in list(self._undo.items()):
            if what == f"{service} killed":
                self._undo.pop(key)
        self.stack.restart(service, env)

    def pause(self, service: str) -> int:
        """SIGSTOP: the process keeps its sockets but answers nothing."""
        self.stack.pause(service)
        return self._remember(f"{service} paused", lambda: self.stack.resume(service))

    @contextlib.contextmanager
    def paused(self, service: str) -> Iterator[None]:
        key = self.pause(service)
        try:
            yield
        finally:
            self.undo(key)

    @contextlib.contextmanager
    def killed(self, service: str) -> Iterator[None]:
        """The service is down for the block and restarted (and ready) after it."""
        key = self.kill(service)
        try:
            yield
        finally:
            self.undo(key)

    def moments(self, count: int, within_s: float) -> list[float]:
        """`count` seeded moments in [0, within_s), sorted: when to strike."""
        return sorted(self.random.uniform(0, within_s) for _ in range(count))

    def sleep_until(self, t0: float, offset_s: float) -> None:
        """Wait for a chosen moment of a fault timeline (not a synchronisation point)."""
        delay = t0 + offset_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def choose(self, options: Sequence[str]) -> str:
        return self.random.choice(list(options))
