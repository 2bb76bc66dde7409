"""junit.xml for CI: one testcase per expectation, one for the audit, and one each for an abort
and a failed rollback when they happened, so a CI page names what broke without the HTML.

The shape is the common one (testsuites > testsuite > testcase with failure/error/skipped)
that Jenkins, GitLab, GitHub actions and pytest's own junit-xml write and read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from .view import BAD_COUNTS, headline, measured, outcome_label, rollback_part

# Characters XML 1.0 cannot carry at all (terminal escapes in an exception text, say).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def _suite_name(journal: Mapping[str, Any]) -> str:
    exp = journal.get("experiment") or {}
    if exp.get("file"):
        return PurePath(str(exp["file"])).stem
    return re.sub(r"[^A-Za-z0-9_-]+", "-", str(exp.get("title") or "gameday")).strip("-")


def _timestamp(value: Any) -> str | None:
    # The JUnit schema's timestamp has no zone: drop "Z" / "+00:00" (journal times are UTC).
    if not value:
        return None
    return re.sub(r"(\.\d+)?(Z|[+-]\d\d:\d\d)$", "", str(value))


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=_text(classname), name=_text(name), time="0")


def _outcome(case: ET.Element, tag: str, message: str, kind: str, body: str) -> None:
    node = ET.SubElement(case, tag, message=_text(message), type=_text(kind))
    node.text = _text(body)


def _expectation_case(suite: ET.Element, base: str, exp: Mapping[str, Any], why: str) -> str:
    phase = str(exp.get("phase") or "run")
    case = _case(suite, f"{base}.{phase}", str(exp.get("name")))
    body = "\n".join(
        f"{k}: {exp.get(k)}" for k in ("phase", "kind", "expression", "value", "detail")
    )
    if exp.get("ok") is False:
        value = measured(exp.get("kind"), exp.get("value"), exp.get("expression"))
        message = f"measured {value}: {exp.get('detail') or exp.get('expression')}"
        _outcome(case, "failure", message, str(exp.get("kind") or "expectation"), body)
        return "failure"
    if exp.get("ok") is None:
        skipped = ET.SubElement(case, "skipped", message=_text(f"not evaluated{why}"))
        skipped.text = _text(body)
        return "skipped"
    return "passed"


def _audit_case(suite: ET.Element, base: str, audit: Mapping[str, Any] | None, why: str) -> str:
    case = _case(suite, f"{base}.audit", "audit: nothing lost, duplicated or stuck")
    if not audit:
        ET.SubElement(case, "skipped", message=_text(f"the audit did not run{why}"))
        return "skipped"
    counts = audit.get("counts") or {}
    broken = [i for i in audit.get("invariants") or [] if not i.get("ok")]
    bad = [f"{counts[k]} {k}" for k in BAD_COUNTS if (counts.get(k) or 0) > 0]
    if not bad and not broken and audit.get("clean", True):
        return "passed"
    lines = [", ".join(f"{k}={counts.get(k)}" for k in ("ok", *BAD_COUNTS))]
    for inv in broken:
        lines.append(f"broken: {inv.get('name')}")
        lines += [f"  {finding}" for finding in (inv.get("findings") or [])[:50]]
    message = "; ".join(bad + [f"broken: {i.get('name')}" for i in broken]) or "audit not clean"
    _outcome(case, "failure", message, "audit", "\n".join(lines))
    return "failure"


def render_junit(journal: Mapping[str, Any]) -> str:
    base = f"gameday.{_suite_name(journal)}"
    exp_meta = journal.get("experiment") or {}
    suite = ET.Element("testsuite", name=_text(exp_meta.get("title") or _suite_name(journal)))
    props = ET.SubElement(suite, "properties")
    for key in ("outcome", "status", "exit_code", "seed", "replay"):
        ET.SubElement(props, "property", name=key, value=_text(journal.get(key)))
    ET.SubElement(props, "property", name="scenario", value=_text(exp_meta.get("file")))

    abort = journal.get("abort")
    why = f": run {outcome_label(journal).lower()}" if abort else ""
    results = [
        _expectation_case(suite, base, exp, why) for exp in journal.get("expectations") or []
    ]
    results.append(_audit_case(suite, base, journal.get("audit"), why))

    if abort:
        case = _case(suite, f"{base}.run", "the run was not aborted")
        detail = "\n".join(f"{k}: {v}" for k, v in abort.items())
        if abort.get("by") == "safeguard":
            message = f"safeguard {abort.get('name')} tripped at {abort.get('at_s')} s"
            message += f": {abort['detail']}" if abort.get("detail") else ""
            _outcome(case, "failure", message, "safeguard", detail)
            results.append("failure")
        else:
            message = f"interrupted by {abort.get('signal') or abort.get('by')}"
            _outcome(case, "error", f"{message} at {abort.get('at_s')} s", "interrupted", detail)
            results.append("error")
    rollback = rollback_part(journal)
    if rollback:
        case = _case(suite, f"{base}.rollback", "every fault healed and every rollback succeeded")
        failed = [a for a in journal.get("rollbacks") or [] if a.get("status") == "failed"]
        body = "\n".join(
            f"{(a.get('activity') or {}).get('name')}: {a.get('exception')}" for a in failed
        )
        _outcome(case, "failure", rollback, "rollback", body)
        results.append("failure")
    if journal.get("outcome") == "error":
        case = _case(suite, f"{base}.run", "the run ended without an error")
        errors = [a for a in journal.get("run") or [] if a.get("exception")]
        body = "\n".join(
            f"{(a.get('activity') or {}).get('name')}: {a.get('exception')}" for a in errors
        )
        _outcome(case, "error", "the game day ended in an error", "error", body)
        results.append("error")

    counts = {k: results.count(k) for k in ("failure", "error", "skipped")}
    attrs = {
        "tests": str(len(results)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": f"{float(journal.get('duration') or 0):.3f}",
    }
    suite.attrib.update(attrs)
    if stamp := _timestamp(journal.get("start")):
        suite.set("timestamp", stamp)
    suite.set("hostname", "localhost")
    out = ET.SubElement(suite, "system-out")
    out.text = _text(f"{headline(journal)}\nreplay: {journal.get('replay') or '—'}")
    root = ET.Element("testsuites", name="faultline gameday", **attrs)
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
