"""Everything a person or a CI job reads after a game day, rendered from its journal.

`write_reports(journal, report_dir)` writes, side by side:
- journal.json: the run as data (JOURNAL.md is its format);
- report.html: one self-contained page (inline CSS, script and data; fetches nothing);
- junit.xml: one testcase per expectation, plus the audit (and an abort, a failed rollback);
- summary.md: Markdown for a CI job summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .junit import render_junit
from .page import render_page
from .summary import render_summary
from .view import headline, json_safe, outcome_label, payload

__all__ = [
    "headline",
    "outcome_label",
    "render_junit",
    "render_page",
    "render_report",
    "render_summary",
    "write_reports",
]


def render_report(journal: Mapping[str, Any]) -> str:
    """report.html's text."""
    return render_page(payload(journal))


def _write(path: Path, text: str) -> Path:
    # Write beside and rename, so a reader (a browser, a CI uploader) never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_reports(journal: Mapping[str, Any], report_dir: Path) -> dict[str, Path]:
    """Write the four files; returns their paths by kind: journal, html, junit, summary."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    safe = json_safe(journal)
    return {
        "journal": _write(
            report_dir / "journal.json",
            json.dumps(safe, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
        ),
        "html": _write(report_dir / "report.html", render_report(safe)),
        "junit": _write(report_dir / "junit.xml", render_junit(safe)),
        "summary": _write(report_dir / "summary.md", render_summary(safe)),
    }
