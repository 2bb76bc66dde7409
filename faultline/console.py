"""Where commands write: results on stdout, progress and problems on stderr."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def report_problems(lines: list[str]) -> None:
    """Each problem as one `faultline: …` line on stderr."""
    for line in lines:
        err.print(f"faultline: {line}", markup=False)
