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
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from chaos.faults.journal import FaultJournal
from chaos.faults.toxics import Toxic
from chaos.faults.undo import UndoStep, run_step
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
        self,
        stack: Stack,
        *,
        seed: int | None = None,
        client: ToxiproxyClient | None = None,
        journal: FaultJournal | None = None,
    ) -> None:
        self.stack = stack
        self.topology = stack.topology
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.random = random.Random(self.seed)
        self.client = client or ToxiproxyClient(stack.toxiproxy_url)
        self.history: list[str] = []  # what was injected, in order, for reports
        self.journal = journal  # on disk, for `faultline recover` after a crash
        self._undo: dict[int, tuple[str, UndoStep, str | None]] = {}
        self._ids = itertools.count(1)
        atexit.register(self.heal)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _begin(self, what: str, undo: UndoStep) -> int:
        """Remember how to undo a fault *before* applying it (journal first), so that a
        crash between the two still leaves the undo on record."""
        key = next(self._ids)
        journal_id = self.journal.begin(what, undo) if self.journal else None
        self._undo[key] = (what, undo, journal_id)
        self.history.append(what)
        log.info("fault: %s", what)
        return key

    def _forget(self, key: int) -> None:
        entry = self._undo.pop(key, None)
        if entry is not None:
            self._run(entry)

    def _run(self, entry: tuple[str, UndoStep, str | None]) -> None:
        _, undo, journal_id = entry
        run_step(undo, self.stack, self.client)
        if self.journal and journal_id:
            self.journal.healed(journal_id)

    @property
    def active(self) -> list[str]:
        return [what for what, _, _ in self._undo.values()]

    def heal(self) -> list[str]:
        """Undo every fault still active, newest first; return what could not be undone."""
        problems = []
        for key in sorted(self._undo, reverse=True):
            entry = self._undo.pop(key)
            what = entry[0]
            try:
                self._run(entry)
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

    def release(self) -> list[str]:
        """Leave the active faults in force and hand them to the journal, which alone records
        them from now on (`faultline recover` or another process heals them); returns them.
        Nothing is healed at this object's exit, nor at the process's."""
        if self.journal is None and self._undo:
            raise FaultError("faults with no journal cannot be released: nothing would undo them")
        released = self.active
        self._undo.clear()
        self.client.close()
        atexit.unregister(self.heal)
        return released

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_edge(self, name: str) -> str:
        """The proxy of edge `name`; a `FaultError` listing the edges when there is none."""
        return self._edge(name)

    def check_service(self, name: str) -> None:
        if name not in self.topology.services:
            known = ", ".join(self.topology.services)
            raise FaultError(f"unknown service {name!r} (services: {known})")

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
        key = self._begin(what, UndoStep(op="remove_toxic", target=proxy, toxic=toxic_name))
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
            self._forget(key)
            raise FaultError(f"cannot inject {what}: {exc.message}") from None
        return key

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
            key = self._begin(f"{proxy} down", UndoStep(op="enable", target=proxy))
            try:
                self._enable(proxy, False)
            except FaultError:
                self._forget(key)
                raise
            keys.append(key)
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
        return self.down(self.database_edge(service))

    def database_latency(self, service: str, ms: int) -> contextlib.AbstractContextManager[None]:
        from chaos.faults.toxics import latency

        return self.toxic(self.database_edge(service), latency(ms))

    def database_edge(self, service: str) -> str:
        self.check_service(service)
        edges = self.edges("postgres", source=service)
        if not edges:
            raise FaultError(f"service {service!r} has no database edge")
        return edges[0]

    # -- process faults ------------------------------------------------------------------------

    def kill(self, service: str) -> int:
        """SIGKILL the service; `heal()` (or `restart`) starts it again."""
        key = self._begin(f"{service} killed", UndoStep(op="restart", target=service))
        self.stack.kill(service)
        return key

    def restart(self, service: str, env: dict[str, str] | None = None) -> None:
        """Start the service again (after `kill`, or to apply `env`) and wait until ready."""
        for key, (what, _, journal_id) in list(self._undo.items()):
            if what == f"{service} killed":
                self._undo.pop(key)
                if self.journal and journal_id:
                    self.journal.healed(journal_id)
        self.stack.restart(service, env)

    def pause(self, service: str) -> int:
        """SIGSTOP: the process keeps its sockets but answers nothing."""
        key = self._begin(f"{service} paused", UndoStep(op="resume", target=service))
        self.stack.pause(service)
        return key

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
