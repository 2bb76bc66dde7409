"""The live terminal view of a game day (rich): the timeline with a now-marker, the phase and
the faults in force, the last second's rps, p95 and error rate, breaker states, safeguards.

On a terminal it redraws in place; elsewhere (CI logs, pipes) it prints one line every few
seconds instead.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

BAR = 60
STATE_STYLE = {"closed": "green", "half-open": "yellow", "open": "bold red", "unknown": "dim"}


def _now(journal: dict[str, Any]) -> float:
    seconds = journal["metrics"]["seconds"]
    return float(seconds[-1]["t"] + 1) if seconds else 0.0


def timeline_bar(journal: dict[str, Any], now: float) -> Text:
    phases = journal["phases"]
    total = max((p["end_s"] for p in phases), default=1.0) or 1.0
    cells = ["·"] * BAR
    for fault in journal["faults"]:
        a = int(fault["at_s"] / total * BAR)
        b = max(a + 1, int((fault["at_s"] + fault["for_s"]) / total * BAR))
        for i in range(a, min(b, BAR)):
            cells[i] = "█"
    marker = min(BAR - 1, int(now / total * BAR))
    text = Text()
    for i, cell in enumerate(cells):
        if i == marker:
            text.append("▼", style="bold cyan")
        else:
            text.append(cell, style="red" if cell == "█" else "dim")
    text.append(f"  {now:.0f}/{total:.0f}s")
    return text


def phase_at(journal: dict[str, Any], now: float) -> str:
    current = [p["name"] for p in journal["phases"] if p["start_s"] <= now < p["end_s"]]
    return ", ".join(current) or "after"


def render(journal: dict[str, Any]) -> Group:
    now = _now(journal)
    last = journal["metrics"]["seconds"][-2:-1] or journal["metrics"]["seconds"][-1:]
    row = last[0] if last else {}
    active = [
        f"{f['name']} ({f['description']})" for f in journal["faults"] if f["status"] == "applied"
    ]
    head = Text(journal["experiment"]["title"], style="bold")
    status = Table.grid(padding=(0, 2))
    status.add_row("phase", phase_at(journal, now))
    status.add_row("faults in force", ", ".join(active) or "none")
    status.add_row(
        "load",
        f"{row.get('rps', 0)} req/s   p95 {row.get('p95_ms') or 0:.0f} ms   "
        f"errors {100 * (row.get('error_rate') or 0):.1f}%",
    )
    breakers = Text()
    for name, lane in sorted(journal["breakers"].items()):
        state = lane[-1]["state"] if lane else "unknown"
        breakers.append(f"{name} ", style="dim")
        breakers.append(f"{state}  ", style=STATE_STYLE.get(state, ""))
    status.add_row("breakers", breakers)
    guards = Text()
    for guard in journal["safeguards"]:
        style = "bold red" if guard["tripped"] else "green"
        value = guard["value"]
        shown = "-" if value is None else f"{value:.3g}"
        guards.append(f"{guard['name']} ({guard['expression']}) now {shown}  ", style=style)
    status.add_row("safeguards", guards or Text("none", style="dim"))
    if journal.get("dashboard"):
        status.add_row("dashboard", journal["dashboard"])
    return Group(head, timeline_bar(journal, now), status)


class LiveView:
    """Feed it journal snapshots (`update`); close it at the end."""

    def __init__(self, console: Console, *, every_s: float = 5.0) -> None:
        self.console = console
        self.every_s = every_s
        self._live: Live | None = None
        self._last = 0.0
        if console.is_terminal:
            self._live = Live(console=console, refresh_per_second=4, transient=False)
            self._live.start()

    def update(self, journal: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.update(render(journal))
            return
        if time.monotonic() - self._last < self.every_s:
            return
        self._last = time.monotonic()
        now = _now(journal)
        seconds = journal["metrics"]["seconds"]
        row = seconds[-2] if len(seconds) > 1 else (seconds[-1] if seconds else {})
        active = [f["name"] for f in journal["faults"] if f["status"] == "applied"]
        open_ = [
            n for n, lane in journal["breakers"].items() if lane and lane[-1]["state"] != "closed"
        ]
        self.console.print(
            f"[{now:5.0f}s] phase {phase_at(journal, now)}; faults {', '.join(active) or 'none'}; "
            f"{row.get('rps', 0)} req/s, p95 {row.get('p95_ms') or 0:.0f} ms, errors "
            f"{100 * (row.get('error_rate') or 0):.1f}%; breakers not closed: "
            f"{', '.join(open_) or 'none'}",
            markup=False,
        )

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
