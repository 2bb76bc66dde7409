"""journal.json, junit.xml and summary.md written from a journal, and the headline they share."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Journal, growing, passed

from scenarios.report import headline, render_junit, render_summary, write_reports
from scenarios.report.page import render_page, script_json
from scenarios.report.view import payload

pytestmark = pytest.mark.unit

OUTCOMES = ("failure", "error", "skipped")


def aborted(journal: Journal) -> Journal:
    """Stopped by the error-rate safeguard at 41 s: later phases never judged."""
    journal["abort"] = {
        "by": "safeguard",
        "name": "error rate",
        "at_s": 41.0,
        "detail": "http_req_failed rate 0.62 over 20s",
    }
    journal["safeguards"][0].update(tripped=True, at_s=41.0, value=0.62)
    for exp in journal["expectations"]:
        if exp["phase"] == "after":
            exp.update(ok=None, value=None, detail=None)
    journal["faults"][0].update(healed_s=41.3, recovery_s=None)
    journal.update(status="aborted", outcome="aborted", exit_code=97, audit=None)
    return journal


def rollback_failed(journal: Journal) -> Journal:
    journal["rollbacks"] = [
        {
            "activity": {"type": "action", "name": "heal payments-down", "fault": "payments-down"},
            "status": "failed",
            "start": journal["end"],
            "end": journal["end"],
            "duration": 5.0,
            "output": None,
            "exception": "toxiproxy: 500 listen tcp 127.0.0.1:41000: bind: address in use",
        }
    ]
    journal["faults"][0]["status"] = "heal_failed"
    journal.update(outcome="rollback_failed", exit_code=96)
    return journal


def parse(xml_text: str) -> ET.Element:
    root = ET.fromstring(xml_text.encode())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    # The counts every CI reader trusts must agree with the testcases themselves.
    for node in (root, suites[0]):
        cases = suites[0].findall("testcase")
        assert int(node.get("tests")) == len(cases)
        for kind, attr in zip(OUTCOMES, ("failures", "errors", "skipped"), strict=True):
            assert int(node.get(attr)) == sum(1 for c in cases if c.find(kind) is not None)
    for case in suites[0].findall("testcase"):
        assert case.get("name") and case.get("classname") and case.get("time") is not None
        assert sum(1 for kind in OUTCOMES if case.find(kind) is not None) <= 1
    return suites[0]


def case(suite: ET.Element, name: str) -> ET.Element:
    found = [c for c in suite.findall("testcase") if c.get("name") == name]
    assert len(found) == 1, [c.get("name") for c in suite.findall("testcase")]
    return found[0]


def test_write_reports_writes_the_four_files(journal: Journal, tmp_path: Path) -> None:
    paths = write_reports(journal, tmp_path / "reports" / "run-1")
    assert {p.name for p in paths.values()} == {
        "journal.json",
        "report.html",
        "junit.xml",
        "summary.md",
    }
    assert json.loads(paths["journal"].read_text()) == journal
    assert "<title>FAILED · Payments down under load</title>" in paths["html"].read_text()
    assert not list(paths["html"].parent.glob(".*.tmp"))


def test_the_report_is_one_file_that_names_nothing_outside_itself(journal: Journal) -> None:
    page = render_page(payload(journal))
    assert not re.search(r"(src|href)=\"(?!data:|journal\.json|junit\.xml)", page)
    # The SVG namespace is a name, not an address: anything else would be a fetch waiting to happen.
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page)) - {"http://www.w3.org/2000/svg"}
    assert not urls
    assert "default-src 'none'" in page and "connect-src 'none'" in page


def test_non_finite_numbers_become_null(journal: Journal, tmp_path: Path) -> None:
    journal["metrics"]["seconds"][3]["p95_ms"] = math.nan
    journal["safeguards"][0]["value"] = math.inf
    paths = write_reports(journal, tmp_path)
    written = json.loads(paths["journal"].read_text())
    assert written["metrics"]["seconds"][3]["p95_ms"] is None
    assert written["safeguards"][0]["value"] is None


def test_embedded_data_cannot_close_its_script_element() -> None:
    text = script_json({"title": "</script><script>alert(1)</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["title"] == "</script><script>alert(1)</script><!-- & \u2028"


def test_junit_has_a_testcase_per_expectation_and_the_audit(journal: Journal) -> None:
    suite = parse(render_junit(journal))
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == [e["name"] for e in journal["expectations"]] + [
        "audit: nothing lost, duplicated or stuck"
    ]
    failure = case(suite, "bookings stay fast during payments-down").find("failure")
    assert "measured 1460 ms" in failure.get("message")
    assert "p(95)<800" in failure.text
    assert case(suite, "audit clean").find("failure") is None
    assert suite.get("timestamp") == "2026-12-05T10:00:00"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["replay"] == journal["replay"] and props["exit_code"] == "1"


def test_junit_of_a_passed_run_has_no_failure(journal: Journal) -> None:
    suite = parse(render_junit(passed(journal)))
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "0")


def test_junit_of_a_safeguard_abort(journal: Journal) -> None:
    suite = parse(render_junit(aborted(journal)))
    abort = case(suite, "the run was not aborted").find("failure")
    assert abort.get("type") == "safeguard" and "error rate" in abort.get("message")
    unjudged = case(suite, "steady state back within 30 s of payments-down's end")
    assert "run aborted" in unjudged.find("skipped").get("message")
    assert case(suite, "audit: nothing lost, duplicated or stuck").find("skipped") is not None


def test_junit_of_an_interrupt_is_an_error(journal: Journal) -> None:
    journal.update(status="interrupted", outcome="aborted", exit_code=97)
    journal["abort"] = {"by": "signal", "signal": "SIGINT", "at_s": 33.0}
    suite = parse(render_junit(journal))
    assert "SIGINT" in case(suite, "the run was not aborted").find("error").get("message")


def test_junit_of_a_failed_rollback(journal: Journal) -> None:
    suite = parse(render_junit(rollback_failed(journal)))
    failure = case(suite, "every fault healed and every rollback succeeded").find("failure")
    assert "heal payments-down" in failure.get("message")
    assert "address in use" in failure.text


def test_junit_audit_failure_names_what_was_lost(journal: Journal) -> None:
    journal["audit"].update(clean=False, counts={**journal["audit"]["counts"], "lost": 3})
    journal["audit"]["invariants"][3].update(
        ok=False,
        findings=[{"check": "outbox", "kind": "lost", "subject": "evt-17", "detail": "unsent"}],
    )
    suite = parse(render_junit(journal))
    failure = case(suite, "audit: nothing lost, duplicated or stuck").find("failure")
    assert "3 lost" in failure.get("message")
    assert "every outbox row published" in failure.get("message")
    assert "evt-17" in failure.text


def test_junit_survives_text_xml_cannot_carry(journal: Journal) -> None:
    journal["experiment"]["title"] = "payments \x1b[31mdown\x1b[0m <&>"
    journal["expectations"][2]["detail"] = "timed out\x00 after 2 s"
    suite = parse(render_junit(journal))
    assert suite.get("name").startswith("payments ") and suite.get("name").endswith("<&>")


def _rows(markdown: str, heading: str) -> list[list[str]]:
    section = markdown.split(f"### {heading}\n", 1)[1].split("\n###", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    # Split on the pipes Markdown sees (an escaped one stays inside its cell).
    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines[2:]]


def test_summary_has_outcome_expectations_recovery_audit_and_replay(journal: Journal) -> None:
    md = render_summary(journal)
    assert md.startswith("## ❌ Game day: Payments down under load\n")
    assert f"**{headline(journal)}**" in md
    rows = _rows(md, "Expectations")
    assert len(rows) == len(journal["expectations"])
    failed = [r for r in rows if r[0].strip() == "❌"]
    assert [r[1].strip() for r in failed] == ["bookings stay fast during payments-down"]
    assert failed[0][3].strip() == "1460 ms"
    assert _rows(md, "Faults and recovery")[0][-1].strip() == "4.2 s"
    assert [c.strip() for c in _rows(md, "Audit")[0]] == ["412", "0", "0", "0", "0"]
    assert "```sh\nfaultline gameday scenarios/payments-down.yaml --seed 7\n```" in md


def test_summary_escapes_user_text(journal: Journal) -> None:
    journal["experiment"]["title"] = "<script>alert(1)</script> | pwned"
    journal["expectations"][0]["name"] = "p95 | under <b>500</b>"
    journal["expectations"][0]["expression"] = "a|b `tick`"
    md = render_summary(journal)
    assert "<script>" not in md and "<b>" not in md
    assert "&lt;script&gt;" in md
    assert all(len(row) == 6 for row in _rows(md, "Expectations"))


def test_summary_of_an_abort_says_so(journal: Journal) -> None:
    md = render_summary(aborted(journal))
    assert "> **Aborted** by safeguard error rate at 41.0 s" in md
    assert "### Safeguards tripped" in md and "The audit did not run." in md


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            lambda j: j,
            "FAILED — 5/6 expectations met (failed: bookings stay fast during payments-down), "
            "recovery 4.2 s, nothing lost",
        ),
        (passed, "PASSED — 6/6 expectations met, recovery 4.2 s, nothing lost"),
        (
            aborted,
            "ABORTED — aborted by safeguard “error rate” at 41.0 s, 3/6 expectations met "
            "(failed: bookings stay fast during payments-down; 2 not evaluated), "
            "no recovery measured, audit not run",
        ),
        (
            rollback_failed,
            "ROLLBACK FAILED — rollback failed: heal payments-down, "
            "5/6 expectations met (failed: bookings stay fast during payments-down), "
            "recovery 4.2 s, nothing lost",
        ),
        (
            lambda j: growing(j, 42),
            "RUNNING — 42 s of 90 s, payments-down in force, 0/6 expectations met (6 pending)",
        ),
    ],
    ids=["failed", "passed", "aborted", "rollback_failed", "running"],
)
def test_headline(journal: Journal, variant, expected: str) -> None:
    assert headline(variant(journal)) == expected


def test_headline_counts_what_the_audit_found(journal: Journal) -> None:
    journal["audit"]["counts"].update(lost=3, duplicated=1)
    assert headline(journal).endswith("recovery 4.2 s, 3 lost, 1 duplicated")


def test_junit_of_a_run_that_errored_before_any_load(tmp_path: Path) -> None:
    journal = {
        "experiment": {"title": "Broker down", "file": "scenarios/broker-down.yaml"},
        "outcome": "error",
        "exit_code": 1,
        "run": [{"activity": {"name": "broker-down"}, "status": "failed", "exception": "boom"}],
    }
    paths = write_reports(journal, tmp_path)
    suite = parse(paths["junit"].read_text())
    assert "boom" in case(suite, "the run ended without an error").find("error").text
    assert case(suite, "audit: nothing lost, duplicated or stuck").find("skipped") is not None
    assert "The audit did not run." in paths["summary"].read_text()
