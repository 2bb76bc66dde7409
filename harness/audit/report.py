"""The audit's report: per check, counts of ok, lost, duplicated, stuck and unexpected, with ids."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .rows import DeadLetter

if TYPE_CHECKING:
    pass

Kind = Literal["lost", "duplicated", "stuck", "unexpected"]
KINDS: tuple[Kind, ...] = ("lost", "duplicated", "stuck", "unexpected")

# --------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class Finding:
    check: str
    kind: Kind
    subject: str  # the id a person looks up: booking, event, facility...
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.kind} {self.subject}: {self.detail}"


@dataclass
class CheckResult:
    name: str
    invariant: str
    ok: int = 0
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: Kind, subject: str, detail: str) -> None:
        self.findings.append(Finding(self.name, kind, subject, detail))

    def ids(self, kind: Kind) -> list[str]:
        return sorted({f.subject for f in self.findings if f.kind == kind})

    @property
    def passed(self) -> bool:
        return not self.findings


@dataclass
class AuditReport:
    checks: list[CheckResult]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    quiet: bool = True  # False when the deadline passed before the suite went quiet

    @property
    def violations(self) -> list[Finding]:
        return [f for check in self.checks for f in check.findings]

    @property
    def passed(self) -> bool:
        return not self.violations

    def since(self, baseline: AuditReport) -> AuditReport:
        """Only the violations that were not already there in `baseline`."""
        old = {(f.check, f.kind, f.subject) for f in baseline.violations}
        checks = [
            CheckResult(
                c.name,
                c.invariant,
                c.ok,
                [f for f in c.findings if (f.check, f.kind, f.subject) not in old],
            )
            for c in self.checks
        ]
        known = {(d.queue, d.message_id) for d in baseline.dead_letters}
        fresh = [d for d in self.dead_letters if (d.queue, d.message_id) not in known]
        return AuditReport(checks, fresh, self.quiet)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def counts(self) -> dict[str, int]:
        """Jepsen-style totals: subjects found fine, and findings of each kind."""
        totals = {"ok": sum(c.ok for c in self.checks)}
        for kind in KINDS:
            totals[kind] = sum(1 for f in self.violations if f.kind == kind)
        return totals

    def summary(self) -> str:
        counts = self.counts()
        if not self.quiet:
            head = f"audit NOT QUIET: still moving ({len(self.violations)} violations)"
        elif self.passed:
            head = "audit passed"
        else:
            head = f"audit FAILED ({len(self.violations)} violations)"
        parts = ", ".join(f"{k} {v}" for k, v in counts.items())
        return f"{head}: {parts}; dead letters {len(self.dead_letters)}"

    def explain(self, limit: int = 20) -> str:
        """One line per violation (first `limit`), then the dead letters: what a person reads."""
        lines = [self.summary()]
        lines += [f"  {f}" for f in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        lines += [
            f"  dead letter in {d.queue}: {d.message_id} ({d.type or 'unknown type'}"
            f"{', ' + d.reason if d.reason else ''})"
            for d in self.dead_letters
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "quiet": self.quiet,
            "counts": self.counts(),
            "checks": [
                {
                    "name": c.name,
                    "invariant": c.invariant,
                    "ok": c.ok,
                    **{kind: c.ids(kind) for kind in KINDS},
                    "findings": [asdict(f) for f in c.findings],
                }
                for c in self.checks
            ],
            "dead_letters": [asdict(d) for d in self.dead_letters],
        }
