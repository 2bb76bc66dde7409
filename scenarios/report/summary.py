"""summary.md: the run in GitHub-flavoured Markdown, for a CI job summary ($GITHUB_STEP_SUMMARY).

Scenario titles, expectation names and details are user input: every table cell escapes
Markdown's table pipe and HTML's '<' and '&', so a title cannot inject markup into the CI page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .view import BAD_COUNTS, headline, measured, outcome_label, seconds

ICONS = {True: "✅", False: "❌", None: "⏸️"}


def cell(value: Any) -> str:
    """Plain text in a table cell (or a line): no markup, no pipe, no newline survives."""
    text = "" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)
    return " ".join(text.split()) or " "


def code(value: Any) -> str:
    """Inline code in a table cell: a backtick fence longer than any run inside, pipes escaped."""
    text = " ".join(("" if value is None else str(value)).split())
    if not text:
        return " "
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def render_summary(journal: Mapping[str, Any]) -> str:
    exp_meta = journal.get("experiment") or {}
    icon = {"PASSED": "✅", "RUNNING": "⏳"}.get(outcome_label(journal), "❌")
    lines = [
        f"## {icon} Game day: {cell(exp_meta.get('title') or 'untitled')}",
        "",
        f"**{cell(headline(journal))}**",
        "",
        f"status `{cell(journal.get('status'))}` · exit code `{journal.get('exit_code')}` · "
        f"seed `{journal.get('seed')}` · {seconds(journal.get('duration'))} · "
        f"scenario {code(exp_meta.get('file'))}",
    ]
    abort = journal.get("abort")
    if abort:
        lines += [
            "",
            f"> **Aborted** by {cell(abort.get('by'))} {cell(abort.get('name') or '')}"
            f" at {seconds(abort.get('at_s'))}: {cell(abort.get('detail') or '')}",
        ]

    exps = journal.get("expectations") or []
    if exps:
        lines += ["", "### Expectations", ""]
        lines += _table(
            ["", "expectation", "phase", "measured", "expression", "detail"],
            [
                [
                    ICONS.get(e.get("ok"), ICONS[None]),
                    cell(e.get("name")),
                    cell(e.get("phase")),
                    cell(measured(e.get("kind"), e.get("value"), e.get("expression"))),
                    code(e.get("expression")),
                    cell(e.get("detail")),
                ]
                for e in exps
            ],
        )

    faults = journal.get("faults") or []
    if faults:
        lines += ["", "### Faults and recovery", ""]
        lines += _table(
            ["fault", "target", "applied", "healed", "status", "recovery"],
            [
                [
                    cell(f.get("name")),
                    code(f.get("target")),
                    seconds(f.get("applied_s")),
                    seconds(f.get("healed_s")),
                    cell(f.get("status")),
                    seconds(f.get("recovery_s")),
                ]
                for f in faults
            ],
        )

    tripped = [g for g in journal.get("safeguards") or [] if g.get("tripped")]
    if tripped:
        lines += ["", "### Safeguards tripped", ""]
        lines += [
            f"- {cell(g.get('name'))} ({code(g.get('expression'))}) at {seconds(g.get('at_s'))}"
            for g in tripped
        ]

    audit = journal.get("audit")
    lines += ["", "### Audit", ""]
    if audit:
        counts = audit.get("counts") or {}
        keys = ["ok", *BAD_COUNTS]
        lines += _table(keys, [[cell(counts.get(k, "—")) for k in keys]])
        broken = [i for i in audit.get("invariants") or [] if not i.get("ok")]
        if broken:
            lines += [""] + [f"- ❌ {cell(i.get('name'))}" for i in broken]
        if audit.get("quiet") is False:
            lines += ["", "The suite never went quiet: counts may still have been moving."]
    else:
        lines.append("The audit did not run.")

    if journal.get("replay"):
        command = str(journal["replay"])
        longest = max((len(m) for m in re.findall(r"`+", command)), default=0)
        fence = "`" * max(3, longest + 1)
        lines += ["", "### Replay", "", f"{fence}sh", command, fence]
    return "\n".join(lines) + "\n"
