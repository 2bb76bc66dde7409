"""The campaign's load step: the smoke profile against the running suite, judged by its
thresholds. With the load layer installed (`load.api`) it runs that profile; otherwise the
game days' built-in booking workload at a gentle rate, judged by the same threshold code.

    python -m scenarios.smoke --report-dir reports/x/load --seed 1 [--state-file F]

Exit 0 when every threshold holds, 99 (k6's code) when one fails, 2 when there is no suite.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from load.thresholds import Judge, parse

THRESHOLDS = ("http_req_failed: rate<0.01", "http_req_duration: p(95)<2000")
RATE, DURATION_S = 4.0, 20.0
EXIT_THRESHOLDS = 99


def main(argv: list[str] | None = None) -> int:
    from harness.stack import Stack

    parser = argparse.ArgumentParser(prog="python -m scenarios.smoke")
    parser.add_argument("--report-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--state-file", type=Path, default=None)
    args = parser.parse_args(argv)
    stack = Stack.attach(args.state_file)
    if stack is None or not stack.running():
        print("no running suite: start one with `faultline up --detach`", file=sys.stderr)
        return 2
    args.report_dir.mkdir(parents=True, exist_ok=True)
    try:
        api = importlib.import_module("load.api")
    except ImportError:
        api = None
    if api is not None:
        run = api.start("smoke", host=stack.gateway_url, seed=args.seed, report_dir=args.report_dir)
        result = run.wait()
        code = int(getattr(result, "exit_code", 0 if getattr(result, "passed", True) else 99))
        (args.report_dir / "summary.txt").write_text(f"load.api smoke profile: exit {code}\n")
        return code
    from scenarios.traffic import BookingTraffic

    traffic = BookingTraffic(stack.gateway_url, rate=RATE, duration_s=DURATION_S, seed=args.seed)
    traffic.start()
    traffic.wait()
    seconds = traffic.recorder.seconds()
    judge = Judge([parse(t) for t in THRESHOLDS], min_samples=1)
    verdicts = judge.finish(seconds, float(len(seconds)))
    lines = [f"built-in booking workload, {RATE:g} iterations/s for {DURATION_S:g}s"]
    lines += [
        f"{'ok  ' if v.ok else 'FAIL'} {v.threshold.source}: {v.describe()}" for v in verdicts
    ]
    text = "\n".join(lines) + "\n"
    (args.report_dir / "summary.txt").write_text(text)
    (args.report_dir / "seconds.json").write_text(json.dumps([s.to_json() for s in seconds]))
    print(text, end="")
    return 0 if judge.passed else EXIT_THRESHOLDS


if __name__ == "__main__":
    sys.exit(main())
