"""Fixtures for the game-day reports: the example journal, journals as they grow during a run,
and Debian's chromium driven by Playwright (the system browser: no browser is downloaded)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CHROMIUM = Path(os.environ.get("FAULTLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

Journal = dict[str, Any]


def example_journal() -> Journal:
    """A 90 s payments-down run: one failed expectation among six, recovery 4.2 s, audit clean."""
    return json.loads((FIXTURES / "payments-down.journal.json").read_text())


@pytest.fixture
def journal() -> Journal:
    return example_journal()


def passed(journal: Journal) -> Journal:
    """The same run with every expectation met, as the runner would have written it."""
    j = copy.deepcopy(journal)
    for exp in j["expectations"]:
        exp["ok"] = True
    j["outcome"], j["exit_code"] = "passed", 0
    return j


def growing(journal: Journal, now: int) -> Journal:
    """The journal as the runner publishes it `now` seconds into the run: metrics so far, faults
    applied and healed only once their time has come, nothing judged yet."""
    j = copy.deepcopy(journal)
    j.update(status="running", outcome=None, exit_code=None, end=None, duration=None)
    j["metrics"]["seconds"] = [r for r in j["metrics"]["seconds"] if r["t"] < now]
    for fault in j["faults"]:
        if fault["applied_s"] is not None and fault["applied_s"] > now:
            fault["applied_s"] = None
        if fault["healed_s"] is not None and fault["healed_s"] > now:
            fault["healed_s"] = None
        fault["recovery_s"] = None
        fault["status"] = "pending"
    for exp in j["expectations"]:
        exp.update(ok=None, value=None, detail=None)
    j["breakers"] = {
        name: [c for c in changes if c["t"] < now] for name, changes in j["breakers"].items()
    }
    start = datetime.fromisoformat(j["start"])
    j["run"] = [
        a for a in j["run"] if (datetime.fromisoformat(a["end"]) - start).total_seconds() <= now
    ]
    j["steady_states"].pop("after", None)
    j["steady_states"]["during"] = []
    j.update(audit=None, traces=[])
    return j


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (as root), "
            "or point FAULTLINE_CHROMIUM at a Chromium"
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watched:
    """A page and everything it asked the network for or complained about."""

    page: Any
    context: Any
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def open_page(browser: Any) -> Iterator[Callable[..., Watched]]:
    contexts: list[Any] = []

    def open_(url: str, *, javascript: bool = True, allow: Callable[[str], bool] | None = None):
        context = browser.new_context(java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page=page, context=context)
        page.on("request", lambda request: watched.requests.append(request.url))
        page.on(
            "console",
            lambda msg: watched.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: watched.console_errors.append(str(exc)))
        allowed = allow or (lambda u: u == url)

        # Anything the page would fetch beyond what it is allowed is refused (and recorded).
        def route(route: Any) -> None:
            if allowed(route.request.url):
                route.continue_()
            else:
                route.abort()

        context.route("**/*", route)
        page.goto(url)
        return watched

    yield open_
    for context in contexts:
        context.close()
