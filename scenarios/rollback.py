"""Guaranteed rollback: whatever ends a game day, every fault it applied is undone.

- Each run keeps an fsync'd fault journal (`chaos.faults.FaultJournal`) under
  `<FAULTLINE_HOME>/gameday/<run>.faults.jsonl`, with a small record beside it naming the stack
  and the runner's pid. A fault's undo step is on disk before the fault is applied.
- `Interrupts` turns SIGINT and SIGTERM into an exception in the runner's main thread, once:
  a second signal while the rollback runs is remembered, not obeyed, so the heal finishes.
- `recover()` (the `faultline recover` command) heals what a runner killed with SIGKILL left:
  every journal with pending faults whose runner is gone.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from chaos.faults import FaultJournal
from harness import processes
from harness.state import home


class Interrupted(Exception):
    """The run was asked to stop by a signal; the rollback still runs."""

    def __init__(self, signame: str) -> None:
        super().__init__(f"interrupted by {signame}")
        self.signame = signame


class Interrupts:
    """SIGINT/SIGTERM raise `Interrupted` in the main thread the first time; later signals
    are counted only, so the rollback they interrupt completes."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._armed = True
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        self.received.append(name)
        if self._armed:
            self._armed = False
            raise Interrupted(name)

    def disarm(self) -> None:
        """From here on (the rollback), signals are noted and ignored."""
        self._armed = False

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)


def journal_dir() -> Path:
    return home() / "gameday"


@dataclass
class RunRecord:
    """What `faultline recover` needs to find a run's stack and tell whether it still runs."""

    run: str
    pid: int
    state_file: str
    scenario: str
    started: float = field(default_factory=time.time)

    @property
    def journal_path(self) -> Path:
        return journal_dir() / f"{self.run}.faults.jsonl"

    @property
    def record_path(self) -> Path:
        return journal_dir() / f"{self.run}.run.json"

    def journal(self) -> FaultJournal:
        return FaultJournal(self.journal_path)

    def save(self) -> None:
        path = self.record_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as out:
            json.dump(self.__dict__, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def finish(self) -> None:
        """A run that healed everything leaves nothing to recover."""
        if not self.journal().pending():
            self.record_path.unlink(missing_ok=True)
            self.journal_path.unlink(missing_ok=True)

    @classmethod
    def all(cls) -> list[RunRecord]:
        found = []
        for path in sorted(journal_dir().glob("*.run.json")):
            try:
                found.append(cls(**json.loads(path.read_text())))
            except (ValueError, TypeError, OSError):
                continue
        return found


@dataclass
class Recovery:
    run: str
    scenario: str
    healed: list[str]
    problems: list[str]
    skipped: str | None = None  # why this run was left alone


def recover(*, force: bool = False, state_file: Path | None = None) -> list[Recovery]:
    """Heal the pending faults of every run whose runner is gone (or every run, `force`)."""
    from harness.stack import Stack
    from harness.toxiproxy import ToxiproxyClient

    results = []
    for record in RunRecord.all():
        pending = record.journal().pending()
        if not pending:
            record.finish()
            continue
        if record.pid != os.getpid() and processes.alive(record.pid) and not force:
            results.append(
                Recovery(
                    record.run,
                    record.scenario,
                    [],
                    [],
                    f"its runner (pid {record.pid}) is still running; it heals its own faults",
                )
            )
            continue
        stack = Stack.attach(state_file or Path(record.state_file))
        if stack is None:
            results.append(
                Recovery(
                    record.run,
                    record.scenario,
                    [],
                    [f"no stack recorded in {record.state_file}: nothing left to heal on"],
                )
            )
            continue
        with ToxiproxyClient(stack.toxiproxy_url) as client:
            healed, problems = record.journal().recover(stack, client)
        if not problems:
            record.finish()
        results.append(Recovery(record.run, record.scenario, healed, problems))
    return results
