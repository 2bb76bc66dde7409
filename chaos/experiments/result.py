"""What an experiment found: properties that held or broke, figures measured, the audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.audit import AuditReport


@dataclass(frozen=True)
class Property:
    name: str
    held: bool
    detail: str


@dataclass
class Result:
    """Built up while an experiment runs; `passed` only when every property held."""

    experiment: str
    mechanism: str
    properties: list[Property] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    audit: AuditReport | None = None

    def expect(self, name: str, held: bool, detail: str) -> bool:
        """Record whether a property held; returns `held` so a run can stop early."""
        self.properties.append(Property(name, bool(held), detail))
        return bool(held)

    def measure(self, name: str, value: Any) -> None:
        self.figures[name] = value

    def audited(self, report: AuditReport) -> None:
        self.audit = report
        detail = report.summary()
        if not report.passed:
            detail += "; " + "; ".join(str(f) for f in report.violations[:5])
        self.expect("audit clean", report.passed, detail)

    @property
    def passed(self) -> bool:
        return bool(self.properties) and all(p.held for p in self.properties)

    @property
    def broken(self) -> list[Property]:
        return [p for p in self.properties if not p.held]

    @property
    def explanation(self) -> str:
        """One line per broken property (or a one-line success), no stack trace."""
        if self.passed:
            held = ", ".join(p.name for p in self.properties)
            return f"{self.experiment}: {self.mechanism} held ({held})"
        if not self.properties:
            return f"{self.experiment}: nothing was measured"
        lines = [f"{self.experiment}: {self.mechanism} FAILED"]
        lines += [f"  broken: {p.name}: {p.detail}" for p in self.broken]
        return "\n".join(lines)

    def report(self) -> str:
        """Everything: each property with its evidence, then the figures."""
        lines = [f"{self.experiment} ({self.mechanism}): {'PASS' if self.passed else 'FAIL'}"]
        lines += [
            f"  [{'ok' if p.held else 'BROKEN'}] {p.name}: {p.detail}" for p in self.properties
        ]
        lines += [f"  {k} = {v}" for k, v in self.figures.items()]
        return "\n".join(lines)


class ExperimentAborted(Exception):
    """The suite misbehaved in a way that ends the experiment; the property is recorded."""
