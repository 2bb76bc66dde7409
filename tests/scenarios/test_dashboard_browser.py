"""The live dashboard in headless chromium: snapshots published during a run reach the page, the
charts grow, the "now" marker moves, a fault window appears when the fault is applied, and the
page says when the run is over. Every check waits for the page to show something; none sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Journal, growing

from scenarios.dashboard import Dashboard

pytestmark = pytest.mark.integration


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    dash = Dashboard(port=0)
    dash.start()
    try:
        yield dash
    finally:
        dash.close()


def points(page: Any) -> int:
    return int(page.get_attribute("#chart-rps path.series", "data-points"))


def wait_points(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => Number(document.querySelector('#chart-rps path.series')?.dataset.points) === n", arg=n
    )


def now_x(page: Any) -> float:
    return float(page.get_attribute("#chart-rps line.now-marker", "x1"))


def test_the_page_follows_a_run(dashboard: Dashboard, journal: Journal, open_page) -> None:
    url = dashboard.url
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
    watched = open_page(url, allow=lambda u: u.startswith(url))
    page = watched.page
    page.wait_for_selector("#app[data-live=live]", state="attached")  # before any snapshot
    assert page.text_content("#waiting") == "Waiting for the game day's first snapshot…"

    # The first seconds of load: the fault is only planned (dashed), the now marker moves on.
    xs = []
    for now in range(4, 19, 2):
        dashboard.publish(growing(journal, now))
        wait_points(page, now)
        xs.append(now_x(page))
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert page.text_content("#outcome-badge") == "RUNNING"
    assert page.locator("g.fault-window.planned[data-fault='payments-down']").count() == 5
    assert page.locator("g.fault-window.active").count() == 0
    assert "18 s of 90 s" in page.text_content("#headline")

    # payments-down is applied at 20.05 s: its window appears, growing with the run.
    for now in range(21, 30, 2):
        dashboard.publish(growing(journal, now))
        wait_points(page, now)
    active = "#chart-p95_ms g.fault-window.active[data-fault='payments-down']"
    assert page.text_content(f"{active} .fault-label") == "payments-down"
    assert "payments-down in force" in page.text_content("#headline")
    lane = "g.breaker-lane[data-breaker='bookings->payments']"
    assert page.locator(f"{lane} rect.state-open").count() >= 1  # opened at 23 s

    # Healed, then the run ends: the final journal replaces the live view and the stream ends.
    dashboard.publish(growing(journal, 70))
    page.wait_for_selector("#chart-rps g.fault-window.healed[data-fault='payments-down']")
    dashboard.publish(journal)
    page.wait_for_selector("#run-header[data-outcome=failed]")
    assert page.locator(".now-marker").count() == 0
    assert points(page) == len(journal["metrics"]["seconds"])
    assert page.text_content("tr.expectation.fail td.value") == "1460 ms"
    dashboard.close()
    page.wait_for_selector("#app[data-live='run over']", state="attached")
    assert watched.console_errors == []
    assert {u for u in watched.requests} == {url, url + "events"}


def test_a_page_opened_mid_run_shows_the_latest_snapshot(
    dashboard: Dashboard, journal: Journal, open_page
) -> None:
    for now in range(1, 41):
        dashboard.publish(growing(journal, now))
    url = dashboard.url
    page = open_page(url, allow=lambda u: u.startswith(url)).page
    wait_points(page, 40)
    assert page.locator("#chart-rps g.fault-window.active").count() == 1


def test_the_live_page_escapes_user_text(dashboard: Dashboard, journal: Journal, open_page):
    evil = '</script><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    journal["experiment"]["title"] = evil
    journal["metrics"]["threshold_lines"][0]["label"] = evil
    url = dashboard.url
    watched = open_page(url, allow=lambda u: u.startswith(url))
    dashboard.publish(growing(journal, 10))
    watched.page.wait_for_selector("#scenario-title")
    assert watched.page.text_content("#scenario-title") == evil
    assert watched.page.evaluate("typeof window.pwned") == "undefined"
    assert watched.page.locator("#app img").count() == 0
    assert watched.console_errors == []
