"""Chaos Toolkit actions: inject any faultline fault by topology name, and heal.

`fault` is the fault API's plain-data form (`chaos.faults.spec`), the same a game-day
timeline uses:

    {"kind": "toxic", "edge": "bookings->payments", "type": "latency",
     "attributes": {"latency": 2000}}
    {"kind": "http", "edge": "gateway->bookings", "status": 503, "rate": 0.5}
    {"kind": "down", "edges": ["bookings->payments"]}
    {"kind": "database", "service": "notifications"}       (or "latency_ms": 300)
    {"kind": "broker"}
    {"kind": "process", "service": "bookings", "action": "kill"}   (or pause, restart)

A fault stays in force after `inject` returns: its undo step is in the stack's fault journal,
and `heal` (a later activity, a rollback, another process) runs every pending one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from chaos.faults import FaultError, FaultJournal, Faults
from chaos.faults import spec as fault_spec
from faultline.chaostoolkit.target import attach, journal_path

log = logging.getLogger("chaostoolkit")

Configuration = Mapping[str, Any] | None


def _parse(fault: Mapping[str, Any]) -> fault_spec.FaultSpec:
    try:
        return fault_spec.parse(dict(fault))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the fault"
        raise FaultError(f"bad fault {dict(fault)!r}: {where}: {error['msg']}") from None


def inject(fault: Mapping[str, Any], configuration: Configuration = None) -> dict[str, Any]:
    """Apply `fault` to the running stack and leave it in force until `heal`.

    Returns what was injected, the journal entries it added, and every fault now pending."""
    spec = _parse(fault)  # bad data fails before the stack is touched
    stack = attach(configuration)
    journal = FaultJournal(journal_path(stack, configuration))
    before = {p.id for p in journal.pending()}
    faults = Faults(stack, journal=journal)
    try:
        fault_spec.apply(spec, faults)
    except BaseException:
        faults.close()  # a fault half-applied (one edge of several) is undone at once
        raise
    # The fault outlives this call on purpose: the journal, not this object, is its record.
    faults.release()
    log.info("faultline: %s", spec.describe())
    pending = journal.pending()
    return {
        "injected": spec.describe(),
        "applied": [p.what for p in pending if p.id not in before],  # as `heal` will name them
        "pending": [p.what for p in pending],
        "journal": str(journal.path),
    }


def heal(configuration: Configuration = None) -> dict[str, Any]:
    """Undo every fault still pending in the stack's journal, newest first (idempotent: with
    nothing pending it does nothing). Raises when a fault could not be undone, so that a failed
    rollback shows as failed in the journal, not as a success."""
    from harness.toxiproxy import ToxiproxyClient

    stack = attach(configuration)
    journal = FaultJournal(journal_path(stack, configuration))
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        healed, problems = journal.recover(stack, client)
    for what in healed:
        log.info("faultline: healed %s", what)
    if problems:
        raise FaultError("; ".join(problems))
    return {"healed": healed}
