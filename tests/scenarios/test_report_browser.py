"""report.html opened from disk in headless chromium: what a person looks for is there, drawn on
one time axis, and the page fetched nothing and logged no error."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from conftest import Journal, example_journal

from scenarios.report import write_reports

pytestmark = pytest.mark.integration


def box(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def tick_x(page: Any, chart: str, label: str) -> float:
    """The on-screen x of an axis tick label's centre (the time a window should start at)."""
    b = box(page, f"{chart} text.tick-label >> text='{label}'")
    return b["x"] + b["width"] / 2


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, open_page) -> Any:
    """The example's report, opened once for the read-only checks below."""
    html = write_reports(example_journal(), tmp_path_factory.mktemp("report"))["html"]
    watched = open_page(html.as_uri())
    watched.page.wait_for_selector("#run-header")
    return watched


def test_the_header_says_how_the_run_ended(report: Any, journal: Journal) -> None:
    page = report.page
    assert page.text_content("#outcome-badge") == "FAILED"
    assert page.text_content("#exit-code") == "exit 1"
    assert page.text_content("#headline") == (
        "FAILED — 5/6 expectations met (failed: bookings stay fast during payments-down), "
        "recovery 4.2 s, nothing lost"
    )
    assert page.text_content("[data-meta=status]") == "completed"
    assert page.title() == "FAILED · Payments down under load"


def test_fault_windows_are_shaded_on_every_chart_at_their_time(report: Any) -> None:
    page = report.page
    for chart in ("#chart-rps", "#chart-p95_ms", "#chart-error_rate", "#timeline svg"):
        window = f"{chart} g.fault-window.healed[data-fault='payments-down']"
        assert page.text_content(f"{window} text.fault-label") == "payments-down"
        shade = box(page, f"{window} rect")
        # Applied at 20.05 s, healed at 60.1 s: the shade spans the axis from 20 s to 1:00.
        step = tick_x(page, chart, "30 s") - tick_x(page, chart, "20 s")
        assert abs(shade["x"] - tick_x(page, chart, "20 s")) < step * 0.02
        assert abs(shade["x"] + shade["width"] - tick_x(page, chart, "1:00")) < step * 0.02


def test_charts_draw_every_second_and_the_threshold_lines(report: Any, journal: Journal) -> None:
    page = report.page
    seconds = len(journal["metrics"]["seconds"])
    for key in ("rps", "p95_ms", "error_rate"):
        assert page.get_attribute(f"#chart-{key} path.series", "data-points") == str(seconds)
    during = box(page, "#chart-p95_ms [data-threshold='p(95)<800 during payments-down'] line")
    window = box(page, "#chart-p95_ms g.fault-window rect")
    # A phase's threshold is drawn over that phase only.
    assert abs(during["x"] - window["x"]) < 2 and abs(during["width"] - window["width"]) < 2
    before = box(page, "#chart-p95_ms [data-threshold='p(95)<500 before'] line")
    assert before["y"] > during["y"]  # 500 ms lies below 800 ms
    # The safeguard at 50 % errors is far above the data: pinned to the top, said to be above.
    safeguard = "#chart-error_rate [data-threshold='safeguard rate<0.5']"
    assert page.text_content(safeguard) == "↑ safeguard rate<0.5 (50 %)"


def test_breaker_lanes_share_the_time_axis(report: Any) -> None:
    page = report.page
    lanes = page.locator("g.breaker-lane")
    assert lanes.count() == 3
    names = [lanes.nth(i).get_attribute("data-breaker") for i in range(3)]
    assert names == ["bookings->payments", "bookings->facilities", "gateway->bookings"]
    lane = "g.breaker-lane[data-breaker='bookings->payments']"
    states = [
        page.get_attribute(f"{lane} rect.state >> nth={i}", "data-state")
        for i in range(page.locator(f"{lane} rect.state").count())
    ]
    assert states[:3] == ["closed", "open", "half-open"] and states[-2:] == ["half-open", "closed"]
    # Opened at 23 s, three seconds into the fault window drawn on the charts above it.
    opened = box(page, f"{lane} rect.state-open")
    window = box(page, "#chart-rps g.fault-window rect")
    step = tick_x(page, "#chart-rps", "30 s") - tick_x(page, "#chart-rps", "20 s")
    assert abs((opened["x"] - window["x"]) - 0.3 * step) < step * 0.03
    assert page.locator("g.breaker-lane[data-breaker='gateway->bookings'] rect.state").count() == 1


def test_each_expectation_has_its_verdict_and_measured_value(report: Any, journal: Journal) -> None:
    page = report.page
    rows = page.locator("tr.expectation")
    assert rows.count() == len(journal["expectations"])
    verdicts = {
        rows.nth(i).locator("td.name").text_content(): rows.nth(i)
        .locator(".verdict")
        .text_content()
        for i in range(rows.count())
    }
    assert verdicts == {e["name"]: "✓" if e["ok"] else "✗" for e in journal["expectations"]}
    failed = page.locator("tr.expectation.fail")
    assert failed.locator("td.value").text_content() == "1460 ms"
    assert failed.locator("td.phase").text_content() == "payments-down"
    assert "p(95)<800" in failed.locator("code").text_content()
    opens = page.locator("tr.expectation", has_text="breaker bookings->payments opens")
    assert opens.locator("td.value").text_content() == "3.0 s"


def test_recovery_safeguards_steady_state_and_audit(report: Any) -> None:
    page = report.page
    assert page.text_content("tr.fault[data-fault='payments-down'] td.recovery") == "4.2 s"
    assert page.locator("tr.safeguard[data-tripped=false]").count() == 2
    assert page.locator("#safeguards .abort-reason").count() == 0
    assert "before: met" in page.text_content("#steady-state .steady-before h3")
    assert page.locator("#steady-state .steady-after tr.probe").count() == 4
    counts = {
        k: page.text_content(f"#audit td[data-count={k}]")
        for k in ("ok", "lost", "duplicated", "stuck", "unexpected")
    }
    assert counts == {"ok": "412", "lost": "0", "duplicated": "0", "stuck": "0", "unexpected": "0"}
    assert page.locator("#audit li.invariant[data-ok=true]").count() == 6


def test_trace_waterfalls(report: Any, journal: Journal) -> None:
    """The failed and the slowest requests of the fault window (spans a real stack wrote, see
    harness.traces.pick_traces), each a waterfall: a row per span, indented by depth, on the
    trace's time axis, error spans marked, a colour per service."""
    page = report.page
    entries = journal["traces"]
    assert {e["why"] for e in entries} == {"failed", "slowest"}
    traces = page.locator("details.trace")
    assert traces.count() == len(entries)
    for i, entry in enumerate(entries):
        trace = traces.nth(i)
        assert trace.get_attribute("data-trace") == entry["trace_id"]
        assert trace.get_attribute("data-why") == entry["why"]
        assert trace.get_attribute("data-window") == entry["window"]
        label = trace.locator(".trace-label").text_content()
        assert label.startswith(f"{entry['why']} {entry['request']}")
        assert trace.locator("g.span").count() == len(entry["rows"])
        named = trace.locator("g.span.span-error text.span-name")
        errors = [named.nth(k).get_attribute("data-name") for k in range(named.count())]
        wanted = [f"✗ {r['service']}  {r['name']}" for r in entry["rows"] if r["status"] == "error"]
        assert errors == wanted
        assert bool(errors) == (entry["why"] == "failed")

    first, rows = traces.nth(0).locator("g.span"), entries[0]["rows"]
    # Indented by depth: the first row at each depth, further right the deeper it is.
    firsts = {}
    for i, row in enumerate(rows):
        firsts.setdefault(row["depth"], i)
    xs = [
        first.nth(firsts[d]).locator("text.span-name").bounding_box()["x"] for d in sorted(firsts)
    ]
    assert len(xs) >= 4 and xs == sorted(xs) and len(set(xs)) == len(xs)
    # One time axis: a row that starts later has its bar further right.
    late = max(range(len(rows)), key=lambda i: rows[i]["start_ms"])
    bars = [first.nth(i).locator("rect.span-bar").bounding_box() for i in (0, late)]
    assert bars[1]["x"] > bars[0]["x"]
    assert bars[0]["width"] > bars[1]["width"]  # the gateway's request spans the whole trace
    fills: dict[str, set[str]] = {}
    for trace in range(traces.count()):
        spans = traces.nth(trace).locator("g.span")
        for i in range(spans.count()):
            fill = spans.nth(i).locator("rect").get_attribute("fill")
            fills.setdefault(spans.nth(i).get_attribute("data-service"), set()).add(fill)
    services = {r["service"] for e in entries for r in e["rows"]}
    assert set(fills) == services
    assert all(len(f) == 1 for f in fills.values())  # a colour per service …
    assert len(set().union(*fills.values())) == len(services)  # … and not shared


def test_replay_command_and_copy_button(report: Any, journal: Journal) -> None:
    page = report.page
    assert page.text_content("#replay-command") == journal["replay"]
    report.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#copy-replay")
    page.wait_for_selector("#copy-replay[data-copied=true]")
    assert page.evaluate("navigator.clipboard.readText()") == journal["replay"]


def test_the_page_fetched_nothing_and_logged_no_error(report: Any) -> None:
    report.page.wait_for_load_state("networkidle")
    assert report.requests == [report.page.url]
    assert report.page.url.startswith("file://") and report.page.url.endswith("/report.html")
    assert report.console_errors == []


def test_user_text_is_shown_never_run(journal: Journal, tmp_path: Path, open_page) -> None:
    evil = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    journal = copy.deepcopy(journal)
    journal["experiment"]["title"] = f"Payments {evil}"
    journal["experiment"]["description"] = "<b>bold</b> & <i>brave</i>"
    journal["expectations"][0]["name"] = f"p95 {evil}"
    journal["faults"][0]["name"] = '"><svg onload="window.pwned=3">'
    journal["phases"][1]["name"] = journal["faults"][0]["name"]
    journal["replay"] = "faultline gameday '<script>x</script>.yaml' --seed 7"
    html = write_reports(journal, tmp_path)["html"]

    report = open_page(html.as_uri())
    page = report.page
    page.wait_for_selector("#run-header")
    assert page.text_content("#scenario-title") == f"Payments {evil}"
    assert page.text_content("#run-header .description") == "<b>bold</b> & <i>brave</i>"
    assert page.text_content("tr.expectation >> nth=0 >> td.name") == f"p95 {evil}"
    assert page.text_content("#chart-rps .fault-label") == journal["faults"][0]["name"]
    assert page.text_content("#replay-command") == journal["replay"]
    assert page.title() == f"FAILED · Payments {evil}"
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("#app img, #app b, #app i, #app script").count() == 0
    page.wait_for_load_state("networkidle")
    assert report.requests == [html.as_uri()]
    assert report.console_errors == []

    # Without JavaScript the headline is still there, as text.
    bare = open_page(html.as_uri(), javascript=False)
    assert "FAILED — 5/6 expectations met" in bare.page.text_content("noscript")
    assert bare.page.locator("img").count() == 0


def test_an_aborted_run_with_a_dirty_audit(journal: Journal, tmp_path: Path, open_page) -> None:
    journal.update(status="aborted", outcome="aborted", exit_code=97)
    journal["abort"] = {
        "by": "safeguard",
        "name": "error rate",
        "at_s": 41.0,
        "detail": "http_req_failed rate 0.62 over 20s",
    }
    journal["safeguards"][0].update(tripped=True, at_s=41.0, value=0.62)
    journal["expectations"][4].update(ok=None, value=None, detail=None)
    journal["audit"].update(clean=False, counts={**journal["audit"]["counts"], "stuck": 2})
    journal["audit"]["invariants"][5].update(
        ok=False,
        findings=[
            {"check": "terminal", "kind": "stuck", "subject": f"bk-{n}", "detail": "pending"}
            for n in range(25)
        ],
    )
    page = open_page(write_reports(journal, tmp_path)["html"].as_uri()).page
    page.wait_for_selector("#run-header")
    assert page.text_content("#outcome-badge") == "ABORTED"
    assert page.text_content("#exit-code") == "exit 97"
    assert page.text_content("#safeguards .abort-reason") == (
        "Aborted by safeguard “error rate” at 41 s: http_req_failed rate 0.62 over 20s"
    )
    assert page.text_content("tr.safeguard.tripped td.name") == "error rate"
    assert page.locator("#chart-rps line.abort-marker").count() == 1
    assert page.text_content("tr.expectation.pending .verdict") == "…"
    assert page.text_content("#audit td.count.bad[data-count=stuck]") == "2"
    findings = page.locator("#audit li.invariant[data-ok=false] ul.findings li")
    assert findings.count() == 21  # twenty shown, then how many more
    assert findings.nth(0).text_content() == "stuck bk-0: pending"
    assert findings.nth(20).text_content() == "and 5 more"


def test_hovering_a_second_reads_every_chart_at_that_second(report: Any, journal: Journal):
    page = report.page
    at = tick_x(page, "#chart-p95_ms", "20 s")
    step = tick_x(page, "#chart-p95_ms", "30 s") - at
    area = page.locator("#chart-p95_ms rect.hover-area")
    inside = area.bounding_box()
    # Inside second 21 (hover scrolls the chart into view first).
    area.hover(position={"x": at + step * 0.15 - inside["x"], "y": inside["height"] / 2})
    row = journal["metrics"]["seconds"][21]
    assert page.text_content("#charts h3:has(+ #chart-p95_ms) .readout") == "at 21 s: 2.1 s"
    assert page.text_content("#charts h3:has(+ #chart-rps) .readout") == f"at 21 s: {row['rps']}"
    assert page.locator("line.crosshair[visibility=visible]").count() == 4  # 3 charts, 1 lane set
    page.mouse.move(0, 0)
    assert page.locator("line.crosshair[visibility=visible]").count() == 0


def test_a_run_that_ended_before_any_load(tmp_path: Path, open_page) -> None:
    # An error before the first second: most of the journal is still empty.
    journal = {
        "experiment": {"title": "Broker down", "file": "scenarios/broker-down.yaml"},
        "status": "failed",
        "outcome": "error",
        "exit_code": 1,
        "run": [
            {
                "activity": {"type": "action", "name": "broker-down: outage rabbitmq"},
                "status": "failed",
                "exception": "toxiproxy unreachable",
            }
        ],
        "rollbacks": [],
    }
    report = open_page(write_reports(journal, tmp_path)["html"].as_uri())
    page = report.page
    page.wait_for_selector("#run-header")
    assert page.text_content("#headline") == "ERROR — audit not run"
    assert page.get_attribute("#chart-rps path.series", "data-points") == "0"
    assert page.text_content("tr.activity.failed td.detail") == "toxiproxy unreachable"
    assert report.console_errors == []
