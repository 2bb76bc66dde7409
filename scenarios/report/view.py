"""What every rendering of a journal derives from it: the outcome label and the one sentence a
person reads first. Computed here once, so the HTML report, the live page, junit.xml and
summary.md never disagree about what happened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

LABELS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "aborted": "ABORTED",
    "rollback_failed": "ROLLBACK FAILED",
    "error": "ERROR",
}
BAD_COUNTS = ("lost", "duplicated", "stuck", "unexpected")


def running(journal: Mapping[str, Any]) -> bool:
    return journal.get("status") == "running"


def outcome_label(journal: Mapping[str, Any]) -> str:
    if running(journal):
        return "RUNNING"
    outcome = str(journal.get("outcome") or journal.get("status") or "unknown")
    return LABELS.get(outcome, outcome.upper().replace("_", " "))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def seconds(value: Any) -> str:
    v = _num(value)
    return "—" if v is None else f"{v:.1f} s"


def measured(kind: Any, value: Any, expression: Any) -> str:
    """A measured value in the unit its expectation implies: seconds, milliseconds or plain."""
    v = _num(value)
    if kind in ("breaker_opens", "recovers_within"):
        return seconds(value)
    if v is None:
        return "—" if value is None else str(value)
    if re.search(r"duration|p\(\d+\)|_ms\b", str(expression or "")):
        return f"{v:.0f} ms"
    return f"{v:.4g}"


def _names(names: list[str], limit: int = 2) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def expectations_part(journal: Mapping[str, Any]) -> str | None:
    exps = journal.get("expectations") or []
    if not exps:
        return None
    met = sum(1 for e in exps if e.get("ok") is True)
    failed = [str(e.get("name")) for e in exps if e.get("ok") is False]
    pending = sum(1 for e in exps if e.get("ok") is None)
    notes = [f"failed: {_names(failed)}"] if failed else []
    if pending:
        notes.append(f"{pending} {'pending' if running(journal) else 'not evaluated'}")
    text = f"{met}/{len(exps)} expectations met"
    return f"{text} ({'; '.join(notes)})" if notes else text


def recovery_part(journal: Mapping[str, Any]) -> str | None:
    faults = [f for f in journal.get("faults") or [] if f.get("applied_s") is not None]
    measured = [(f.get("name"), _num(f.get("recovery_s"))) for f in faults]
    known = [(n, r) for n, r in measured if r is not None]
    if not known:
        wanted = any(e.get("kind") == "recovers_within" for e in journal.get("expectations") or [])
        if wanted and not running(journal) and faults:
            return "no recovery measured"
        return None
    if len(known) == 1:
        return f"recovery {known[0][1]:.1f} s"
    return "recovery " + ", ".join(f"{r:.1f} s ({n})" for n, r in known)


def audit_part(journal: Mapping[str, Any]) -> str | None:
    audit = journal.get("audit")
    if not audit:
        return None if running(journal) else "audit not run"
    counts = audit.get("counts") or {}
    bad = [f"{counts[k]} {k}" for k in BAD_COUNTS if (_num(counts.get(k)) or 0) > 0]
    if bad:
        return ", ".join(bad)
    failing = [i for i in audit.get("invariants") or [] if not i.get("ok")]
    if failing or audit.get("clean") is False:
        plural = "s" if len(failing) != 1 else ""
        return f"audit NOT clean ({len(failing)} invariant{plural} broken)"
    if audit.get("quiet") is False:
        return "nothing lost, but the suite never went quiet"
    return "nothing lost"


def abort_part(journal: Mapping[str, Any]) -> str | None:
    abort = journal.get("abort")
    if not abort:
        return None
    at = _num(abort.get("at_s"))
    when = f" at {at:.1f} s" if at is not None else ""
    if abort.get("by") == "safeguard":
        return f"aborted by safeguard “{abort.get('name')}”{when}"
    if abort.get("by") == "signal":
        return f"interrupted by {abort.get('signal') or 'a signal'}{when}"
    return f"aborted by {abort.get('by')}{when}"


def rollback_part(journal: Mapping[str, Any]) -> str | None:
    failed = [a for a in journal.get("rollbacks") or [] if a.get("status") == "failed"]
    names = [str((a.get("activity") or {}).get("name")) for a in failed]
    covered = {(a.get("activity") or {}).get("fault") for a in failed}
    names += [
        f"{f.get('name')} not healed"
        for f in journal.get("faults") or []
        if f.get("status") == "heal_failed" and f.get("name") not in covered
    ]
    if names:
        return f"rollback failed: {_names(names)}"
    if journal.get("outcome") == "rollback_failed":
        return "rollback failed"
    return None


def progress_part(journal: Mapping[str, Any]) -> str:
    rows = (journal.get("metrics") or {}).get("seconds") or []
    now = rows[-1]["t"] + 1 if rows else 0
    planned = max([p.get("end_s") or 0 for p in journal.get("phases") or []] + [0])
    text = f"{now:.0f} s of {planned:.0f} s" if planned else f"{now:.0f} s"
    active = [
        str(f.get("name"))
        for f in journal.get("faults") or []
        if f.get("applied_s") is not None and f.get("healed_s") is None
    ]
    if active:
        text += f", {_names(active)} in force"
    return text


def headline(journal: Mapping[str, Any]) -> str:
    """E.g. "PASSED — 7/7 expectations met, recovery 4.2 s, nothing lost"."""
    parts = [progress_part(journal)] if running(journal) else []
    parts += [
        abort_part(journal),
        rollback_part(journal),
        expectations_part(journal),
        recovery_part(journal),
        audit_part(journal),
    ]
    text = ", ".join(p for p in parts if p)
    return f"{outcome_label(journal)} — {text}" if text else outcome_label(journal)


def json_safe(value: Any) -> Any:
    """NaN and infinities become null: browsers' JSON.parse (and strict readers) reject them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def payload(journal: Mapping[str, Any]) -> dict[str, Any]:
    """What the page's script renders: the journal plus the label and headline derived here."""
    safe = json_safe(journal)
    return {"label": outcome_label(safe), "headline": headline(safe), "journal": safe}
