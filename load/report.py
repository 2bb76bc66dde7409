"""What a load run leaves behind: the summary (also `summary.json`), `junit.xml` (one testcase
per threshold and one for the audit) and `history.csv` (per second and per route: requests,
failures and true percentiles of that second's own samples). Locust writes `locust.html`."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from . import exit_codes
from .capacity import capacity
from .metrics import Second, aggregate
from .profiles import Profile
from .thresholds import Verdict

PERCENTILES = (50, 90, 95, 99)


def _names(seconds: Iterable[Second], metric: str, tag: str) -> list[str]:
    found = set()
    for second in seconds:
        for key in (*second.trends, *second.rates, *second.counters):
            if key[0] == metric:
                found.update(v for k, v in key[1] if k == tag)
    return sorted(found)


def _figures(seconds: Sequence[Second], tags: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    durations = aggregate(seconds, "http_req_duration", tags)
    failed = aggregate(seconds, "http_req_failed", tags)
    count = int(aggregate(seconds, "http_reqs", tags).count)
    span = max(1, len(seconds))
    row: dict[str, Any] = {"count": count, "rps": round(count / span, 2)}
    for p in PERCENTILES:
        value = durations.percentile(p)
        row[f"p{p}"] = None if value is None else round(value, 1)
    row["max"] = round(durations.values[-1], 1) if durations.values else None
    row["failures"] = failed.hits
    row["failure_rate"] = round(failed.hits / failed.total, 4) if failed.total else 0.0
    return row


def endpoints(seconds: Sequence[Second]) -> list[dict[str, Any]]:
    rows = [
        {"name": name, **_figures(seconds, (("name", name),))}
        for name in _names(seconds, "http_reqs", "name")
    ]
    return rows


def summarize(
    *,
    profile: Profile,
    host: str,
    processes: int,
    seed: int | None,
    started_at: datetime,
    seconds: Sequence[Second],
    end: dict[str, Any],
    verdicts: Sequence[Verdict],
    audit: dict[str, Any] | None,
    exit_code: int,
) -> dict[str, Any]:
    checks = []
    for name in _names(seconds, "checks", "check"):
        agg = aggregate(seconds, "checks", (("check", name),))
        checks.append({"check": name, "passes": agg.hits, "fails": agg.total - agg.hits})
    iterations = {
        name: int(aggregate(seconds, "iterations", (("scenario", name),)).count)
        for name in _names(seconds, "iterations", "scenario")
    }
    summary: dict[str, Any] = {
        "profile": profile.to_json(),
        "host": host,
        "processes": processes,
        "seed": seed,
        "started_at": started_at.isoformat(),
        "elapsed_s": end.get("elapsed_s"),
        "reason": end.get("reason"),
        "aborted_by": end.get("aborted_by"),
        "exit_code": exit_code,
        "exit_meaning": exit_codes.MEANINGS.get(exit_code, ""),
        "totals": _figures(seconds),
        "endpoints": endpoints(seconds),
        "thresholds": [
            {"threshold": v.threshold.source, "ok": v.ok, "value": v.value, "shown": v.describe()}
            for v in verdicts
        ],
        "checks": checks,
        "iterations": iterations,
        "dropped_iterations": int(aggregate(seconds, "dropped_iterations").count),
        "generator": end.get("saturation", {}),
        "locust": end.get("locust", {}),
        "workers_requests": end.get("workers_requests", {}),
        "audit": audit,
    }
    if profile.step_slo:
        summary["capacity"] = capacity(profile, seconds)
    return summary


def history_rows(seconds: Sequence[Second]) -> list[dict[str, Any]]:
    """Per second, all routes together (name `*`) and each route on its own."""
    rows = []
    for second in sorted(seconds, key=lambda s: s.t):
        one = [second]
        for name in ["*", *_names(one, "http_reqs", "name")]:
            tags = () if name == "*" else (("name", name),)
            figures = _figures(one, tags)
            row = {"t": second.t, "name": name, **figures}
            if name == "*":
                row["dropped_iterations"] = int(aggregate(one, "dropped_iterations").count)
                row["vus"] = aggregate(one, "vus").last
                row["generator_cpu"] = aggregate(one, "generator_cpu").high
            rows.append(row)
    return rows


def write_history(path: Path, seconds: Sequence[Second]) -> None:
    columns = [
        "t",
        "name",
        "count",
        "rps",
        *(f"p{p}" for p in PERCENTILES),
        "max",
        "failures",
        "failure_rate",
        "dropped_iterations",
        "vus",
        "generator_cpu",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in history_rows(seconds):
            writer.writerow(row)


def junit(summary: dict[str, Any]) -> ET.ElementTree:
    name = f"faultline load {summary['profile']['name']}"
    cases: list[ET.Element] = []
    for t in summary["thresholds"]:
        case = ET.Element("testcase", classname=name, name=t["threshold"])
        if not t["ok"]:
            failure = ET.SubElement(case, "failure", message=f"{t['threshold']}: {t['shown']}")
            failure.text = f"value {t['shown']}"
        cases.append(case)
    audit = summary.get("audit")
    case = ET.Element("testcase", classname=name, name="audit")
    if audit is None or audit.get("passed") is None:
        ET.SubElement(case, "skipped", message=(audit or {}).get("summary", "not audited"))
    elif not audit["passed"]:
        failure = ET.SubElement(case, "failure", message=audit["summary"])
        failure.text = "\n".join(audit.get("violations", []))
    cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(failures),
        skipped=str(skipped),
        errors="0",
        time=str(summary.get("elapsed_s") or 0),
        timestamp=summary["started_at"],
    )
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_all(directory: Path, summary: dict[str, Any], seconds: Sequence[Second]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    junit(summary).write(directory / "junit.xml", encoding="utf-8", xml_declaration=True)
    write_history(directory / "history.csv", seconds)
