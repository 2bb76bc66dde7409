"""The campaign CI runs (`faultline run`): every layer once against one suite, in order,
each as its own process with its own report, then `index.html` linking them all.

    contracts   consumer pacts and provider verification      faultline contracts
    fuzz        a short Schemathesis run on every service     faultline fuzz --max-examples N
    chaos       the chaos experiments (each mechanism holds)  pytest chaos/experiments -m chaos
    load        the smoke load profile with its thresholds    faultline load smoke
    gameday     payments down under load                      faultline gameday scenarios/...

A layer's exit code is its verdict; the campaign fails when any layer fails.
"""

from __future__ import annotations

import html
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("contracts", "fuzz", "chaos", "load", "gameday")
GAMEDAY = "scenarios/payments-down.yaml"


@dataclass
class Step:
    name: str
    argv: list[str]
    report: str  # the layer's main report, relative to the campaign's directory
    what: str
    code: int | None = None
    seconds: float = 0.0
    skipped: str | None = None
    tail: str = ""

    @property
    def ok(self) -> bool:
        return self.skipped is not None or self.code == 0

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return "skipped"
        return "passed" if self.code == 0 else f"FAILED (exit {self.code})"


@dataclass
class Campaign:
    report_dir: Path
    state_file: Path
    seed: int
    steps: list[Step] = field(default_factory=list)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


def plan(
    report_dir: Path,
    state_file: Path,
    *,
    seed: int,
    layers: Sequence[str],
    fuzz_examples: int = 5,
    gameday_scale: float = 0.5,
) -> Campaign:
    cli = [sys.executable, "-m", "faultline"]
    steps = {
        "contracts": Step(
            "contracts",
            [*cli, "contracts", "--report-dir", str(report_dir / "contracts"), "--no-publish"],
            "contracts/contracts.xml",
            "every edge's pact, every provider verified",
        ),
        "fuzz": Step(
            "fuzz",
            [
                *cli,
                "fuzz",
                "--max-examples",
                str(fuzz_examples),
                "--seed",
                str(seed),
                "--report-dir",
                str(report_dir / "fuzz"),
            ],
            "fuzz",
            f"Schemathesis on every service, {fuzz_examples} examples per operation",
        ),
        "chaos": Step(
            "chaos",
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "chaos" / "experiments" / "test_experiments.py"),
                "-m",
                "chaos",
                "-k",
                "test_mechanism_holds_under_its_fault",
                "-q",
                "-p",
                "no:cacheprovider",
                "--faultline-reuse",
                f"--junitxml={report_dir / 'chaos' / 'chaos.xml'}",
            ],
            "chaos/chaos.xml",
            "each resilience mechanism holds under its fault",
        ),
        "load": Step(
            "load",
            [
                *cli,
                "load",
                "smoke",
                # The suite has been fuzzed by now: its audit would blame the fuzzer's data.
                # The game day next audits against a baseline taken before it.
                "--no-audit",
                "--state-file",
                str(state_file),
                "--seed",
                str(seed),
                "--report-dir",
                str(report_dir / "load"),
            ],
            "load/locust.html",
            "the smoke load profile with its thresholds",
        ),
        "gameday": Step(
            "gameday",
            [
                *cli,
                "gameday",
                str(ROOT / GAMEDAY),
                "--seed",
                str(seed),
                "--time-scale",
                f"{gameday_scale:g}",
                "--no-dashboard",
                "--state-file",
                str(state_file),
                "--report-dir",
                str(report_dir / "gameday"),
            ],
            "gameday/report.html",
            f"payments down under load ({GAMEDAY}, clock x{gameday_scale:g})",
        ),
    }
    campaign = Campaign(report_dir, state_file, seed)
    campaign.steps = [steps[name] for name in LAYERS if name in layers]
    return campaign


def run(campaign: Campaign, env: dict[str, str], progress: Callable[[Step], None]) -> None:
    campaign.report_dir.mkdir(parents=True, exist_ok=True)
    for step in campaign.steps:
        (campaign.report_dir / step.name).mkdir(parents=True, exist_ok=True)
        log = campaign.report_dir / step.name / "output.txt"
        started = time.monotonic()
        with open(log, "w") as out:
            done = subprocess.run(
                step.argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False
            )
        step.code = done.returncode
        step.seconds = time.monotonic() - started
        step.tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        progress(step)
    write_index(campaign)


def write_index(campaign: Campaign) -> Path:
    rows = []
    for step in campaign.steps:
        link = step.report
        target = campaign.report_dir / link
        shown = (
            f'<a href="{html.escape(link)}">{html.escape(link)}</a>'
            if target.exists()
            else html.escape(link) + " (not written)"
        )
        css = "ok" if step.ok else "bad"
        rows.append(
            f"<tr class={css}><td>{html.escape(step.name)}</td><td>{html.escape(step.what)}</td>"
            f"<td>{html.escape(step.verdict)}</td><td>{step.seconds:.0f} s</td><td>{shown}</td>"
            f'<td><a href="{step.name}/output.txt">output</a></td></tr>'
        )
    verdict = "PASSED" if campaign.ok else "FAILED"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline campaign {verdict}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
tr.bad td {{ color: #b00020; font-weight: 600; }} tr.ok td:nth-child(3) {{ color: #1b5e20; }}
</style></head><body>
<h1>faultline campaign: {verdict}</h1>
<p>Started {html.escape(campaign.started)}, seed {campaign.seed}.
Replay: <code>faultline run --seed {campaign.seed}</code></p>
<table><thead><tr><th>layer</th><th>what</th><th>verdict</th><th>time</th><th>report</th>
<th>log</th></tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    path = campaign.report_dir / "index.html"
    path.write_text(page)
    return path
