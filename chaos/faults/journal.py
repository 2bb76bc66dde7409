"""The fault journal: every fault's undo step on disk *before* the fault is applied.

Append-only JSON lines, each one flushed and fsync'd, so a journal survives the SIGKILL of the
process that wrote it. A fault line without a later `healed` line for its id is pending; after a
crash, `recover()` runs the pending undo steps newest first and marks each one healed. Several
processes may append to one journal (each line is one `write` of a whole line, opened with
O_APPEND): a Chaos Toolkit experiment injects in one activity and heals in another.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaos.faults.undo import UndoStep, run_step

if TYPE_CHECKING:
    from harness.stack import Stack
    from harness.toxiproxy import ToxiproxyClient


@dataclass(frozen=True)
class Pending:
    id: str
    what: str
    undo: UndoStep


class FaultJournal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _append(self, record: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def begin(self, what: str, undo: UndoStep) -> str:
        """Record a fault about to be applied; returns its id for `healed`."""
        entry_id = uuid.uuid4().hex
        self._append({"event": "fault", "id": entry_id, "what": what, "undo": undo.model_dump()})
        return entry_id

    def healed(self, entry_id: str) -> None:
        self._append({"event": "healed", "id": entry_id})

    def pending(self) -> list[Pending]:
        """Faults recorded and not healed, oldest first. A torn last line (the writer died
        mid-write) is ignored: its fault was never applied."""
        if not self.path.exists():
            return []
        faults: dict[str, Pending] = {}
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "fault":
                undo = UndoStep.model_validate(record["undo"])
                faults[record["id"]] = Pending(record["id"], record["what"], undo)
            elif record.get("event") == "healed":
                faults.pop(record["id"], None)
        return list(faults.values())

    def recover(self, stack: Stack, client: ToxiproxyClient) -> tuple[list[str], list[str]]:
        """Undo every pending fault, newest first; returns (healed, problems) as sentences."""
        healed, problems = [], []
        for entry in reversed(self.pending()):
            try:
                run_step(entry.undo, stack, client)
            except Exception as exc:
                problems.append(f"could not undo {entry.what}: {exc}")
                continue
            self.healed(entry.id)
            healed.append(entry.what)
        return healed, problems
