"""Run a game day: steady state before, load with a timeline of faults, safeguards every second,
heal and rollbacks whatever happens, steady state after, the audit, expectations judged per
phase, and the journal the reports are written from.

Exit codes: 0 every expectation met; 1 an expectation failed (or steady state was not met
before the run or after it); 97 a safeguard aborted the run; 96 a rollback failed; 130 a
signal interrupted the run (and the rollback succeeded).
"""

from __future__ import annotations

import contextlib
import logging
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.faults import Faults, spec
from load.metrics import Second, aggregate
from load.thresholds import Judge, evaluate, parse
from scenarios.model import (
    AuditCleanExpectation,
    BreakerOpensExpectation,
    RecoversWithinExpectation,
    ResetProxiesRollback,
    RestartRollback,
    Scenario,
    ThresholdExpectation,
    TimelineEntry,
    WaitReadyRollback,
)
from scenarios.probes import Prober, ProbeResult, breaker_names, breaker_states, met
from scenarios.rollback import Interrupted, Interrupts, RunRecord

if TYPE_CHECKING:
    from harness.stack import Stack

log = logging.getLogger(__name__)

EXIT_PASSED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
EXIT_ABORTED, EXIT_ROLLBACK_FAILED = 97, 96
TICK_S = 0.5
BREAKER_SAMPLE_S = 0.25
BEFORE_TIMEOUT_S = 30.0
VERSION = "0.1.0"


class SafeguardTripped(Exception):
    def __init__(self, name: str, at_s: float, value: float | None) -> None:
        super().__init__(f"safeguard {name} tripped at {at_s:.0f}s")
        self.name, self.at_s, self.value = name, at_s, value


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FaultState:
    entry: TimelineEntry
    keys: list[int] = field(default_factory=list)
    applied_s: float | None = None
    healed_s: float | None = None
    recovery_s: float | None = None
    status: str = "pending"  # pending, applied, healed, heal_failed, failed
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        e = self.entry
        fault = e.fault
        target = (
            getattr(fault, "edge", None)
            or ", ".join(getattr(fault, "edges", []))
            or getattr(fault, "service", None)
            or "rabbitmq"
        )
        return {
            "name": e.name,
            "kind": fault.kind,
            "target": target,
            "description": fault.describe(),
            "spec": {
                "at": f"{e.at:g}s",
                "for": f"{e.for_:g}s",
                "fault": fault.model_dump(mode="json", exclude_defaults=True)
                | {"kind": fault.kind},
            },
            "at_s": round(e.at, 3),
            "for_s": round(e.for_, 3),
            "applied_s": _r(self.applied_s),
            "healed_s": _r(self.healed_s),
            "recovery_s": _r(self.recovery_s),
            "status": self.status,
            "error": self.error,
        }


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass
class Options:
    seed: int = 1
    time_scale: float = 1.0
    report_dir: Path | None = None
    dashboard: bool = True
    replay: str = ""
    source: str = ""  # the scenario file's path, for the journal
    on_tick: Callable[[dict[str, Any]], None] | None = None  # the live terminal view


class GameDay:
    """One run of one scenario against one running stack."""

    def __init__(self, scenario: Scenario, stack: Stack, options: Options) -> None:
        self.original = scenario
        self.scenario = scenario.scaled(options.time_scale)
        self.stack = stack
        self.options = options
        self.seed = options.seed
        rate = scenario.load.rate if scenario.load and scenario.load.rate else 0.0
        self.prober = Prober(stack, scenario.steady_state.probes, load_rate=rate)
        self.faults_state = [FaultState(e) for e in self.scenario.timeline]
        self.breakers: dict[str, list[dict[str, Any]]] = {n: [] for n in breaker_names(stack)}
        self.run_log: list[dict[str, Any]] = []
        self.rollbacks: list[dict[str, Any]] = []
        self.steady: dict[str, Any] = {"during": []}
        self.safeguards = [
            {
                "name": s.name,
                "expression": s.threshold,
                "tripped": False,
                "at_s": None,
                "value": None,
            }
            for s in self.scenario.safeguards
        ]
        self.judges = [Judge([parse(s.threshold)], min_samples=5) for s in scenario.safeguards]
        self.expectations: list[dict[str, Any]] = []
        self.audit: dict[str, Any] | None = None
        self.abort: dict[str, Any] | None = None
        self.load: Any = None
        self.t0: float | None = None
        self.start_iso = now_iso()
        self.end_iso: str | None = None
        self.status = "running"
        self.outcome: str | None = None
        self.exit_code: int | None = None
        self._sampler_stop = threading.Event()
        self._lock = threading.Lock()
        self.dashboard: Any = None
        self.dashboard_url: str | None = None

    # -- the clock ---------------------------------------------------------------------------

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def seconds(self) -> list[Second]:
        return [] if self.load is None else self.load.recorder.seconds()

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> int:
        record = RunRecord(
            run=f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{threading.get_native_id()}",
            pid=__import__("os").getpid(),
            state_file=str(self.stack.state_file),
            scenario=self.options.source or self.scenario.title,
        )
        record.save()
        faults = Faults(self.stack, seed=self.seed, journal=record.journal())
        interrupts = Interrupts()
        try:
            with interrupts.installed():
                try:
                    self._start_dashboard()
                    self._before()
                    if self.outcome is None:
                        self._timeline(faults)
                except Interrupted as exc:
                    self.abort = {"by": "signal", "signal": exc.signame, "at_s": _r(self.elapsed())}
                    self.status, self.outcome = "interrupted", "interrupted"
                except SafeguardTripped as exc:
                    self.abort = {
                        "by": "safeguard",
                        "name": exc.name,
                        "at_s": _r(exc.at_s),
                        "value": exc.value,
                    }
                    self.status, self.outcome = "aborted", "aborted"
                except Exception as exc:
                    log.exception("game day failed")
                    self.abort = {"by": "error", "error": f"{type(exc).__name__}: {exc}"}
                    self.status, self.outcome = "failed", "error"
                finally:
                    interrupts.disarm()
                    rolled_back = self._roll_back(faults)
                    self._after()
        finally:
            faults.close()
            record.finish()
            self._sampler_stop.set()
        self._judge(rolled_back)
        self._write()
        return self.exit_code or 0

    def _start_dashboard(self) -> None:
        if not self.options.dashboard:
            return
        from scenarios.dashboard import Dashboard

        self.dashboard = Dashboard("127.0.0.1")
        self.dashboard_url = self.dashboard.start()
        self._publish()

    def _before(self) -> None:
        self.prober.take_audit_baseline()
        # A suite just started may still be settling: give it a little while, not forever.
        deadline = time.monotonic() + BEFORE_TIMEOUT_S
        results = self.prober.check(None, loaded=False)
        while not met(results) and time.monotonic() < deadline:
            time.sleep(1.0)
            results = self.prober.check(None, loaded=False)
        self.steady["before"] = _steady(results)
        if not met(results):
            self.status, self.outcome = "failed", "failed"
            self.abort = {
                "by": "steady_state",
                "detail": "; ".join(r.detail for r in results if not r.tolerance_met),
            }

    def _timeline(self, faults: Faults) -> None:
        from scenarios import traffic

        load_spec = self.scenario.load
        if load_spec is not None:
            self.load = traffic.start(
                host=self.stack.gateway_url,
                profile=load_spec.profile,
                rate=load_spec.rate,
                users=load_spec.users,
                # Kept up past the run while a recovery is still unmeasured (see below).
                duration_s=self.scenario.duration + self.scenario.recovery_timeout,
                thresholds=list(load_spec.thresholds),
                seed=self.seed,
                processes=load_spec.processes,
            )
            self.t0 = self.load.recorder.started
        else:
            self.t0 = time.monotonic()
        sampler = threading.Thread(target=self._sample_breakers, daemon=True)
        sampler.start()
        every = self.scenario.steady_state.every
        next_check = every if every else None
        while self._keep_running():
            now = self.elapsed()
            for state in self.faults_state:
                if state.status == "pending" and now >= state.entry.at:
                    self._apply(faults, state)
                if state.status == "applied" and now >= state.entry.end:
                    self._heal(faults, state)
            seconds = self.seconds()
            self._safeguards(seconds, now)
            self._recoveries(seconds)
            if next_check is not None and now >= next_check:
                results = self.prober.check(seconds, loaded=True)
                self.steady["during"].append({"at_s": _r(now), **_steady(results)})
                next_check += every or 0
            self._publish()
            time.sleep(max(0.0, TICK_S - (self.elapsed() - now)))
        self._stop_load()

    def _keep_running(self) -> bool:
        """Until the run's duration; then on, under the same load, while a healed fault's
        recovery is unmeasured (a breaker closes again only when requests arrive), up to
        `recovery_timeout` after the last heal."""
        now = self.elapsed()
        if now < self.scenario.duration:
            return True
        waiting = [s for s in self.faults_state if s.status == "healed" and s.recovery_s is None]
        if not waiting or self.load is None:
            return False
        last_heal = max(s.healed_s or 0.0 for s in waiting)
        return now < last_heal + self.scenario.recovery_timeout

    def _stop_load(self) -> None:
        if self.load is not None and self.load.running():
            self.load.stop()

    def _apply(self, faults: Faults, state: FaultState) -> None:
        e = state.entry
        started, at = now_iso(), self.elapsed()
        activity = {"type": "action", "name": f"{e.name}: {e.fault.describe()}", "fault": e.name}
        try:
            state.keys = spec.apply(e.fault, faults)
        except Exception as exc:
            state.status, state.error = "failed", str(exc)
            self._activity(activity, started, "failed", None, str(exc))
            raise
        state.applied_s, state.status = at, "applied"
        self._activity(activity, started, "succeeded", {"active": faults.active}, None)

    def _heal(self, faults: Faults, state: FaultState) -> None:
        e = state.entry
        started = now_iso()
        activity = {"type": "action", "name": f"{e.name}: heal", "fault": e.name}
        try:
            faults.undo(*state.keys)
        except Exception as exc:
            state.status, state.error = "heal_failed", str(exc)
            self._activity(activity, started, "failed", None, str(exc))
            return
        state.healed_s, state.status = self.elapsed(), "healed"
        self._activity(activity, started, "succeeded", {"healed": e.fault.describe()}, None)

    def _activity(
        self,
        activity: dict[str, Any],
        started: str,
        status: str,
        output: Any,
        exception: str | None,
        target: list[dict[str, Any]] | None = None,
    ) -> None:
        end = now_iso()
        duration = (
            datetime.fromisoformat(end.replace("Z", "+00:00"))
            - datetime.fromisoformat(started.replace("Z", "+00:00"))
        ).total_seconds()
        entry = {
            "activity": activity,
            "status": status,
            "start": started,
            "end": end,
            "duration": round(duration, 3),
            "output": output,
            "exception": exception,
        }
        (self.run_log if target is None else target).append(entry)

    def _sample_breakers(self) -> None:
        import httpx

        with httpx.Client(timeout=1.0) as http:
            while not self._sampler_stop.is_set():
                t = self.elapsed()
                states = breaker_states(self.stack, http)
                with self._lock:
                    for name, state in states.items():
                        lane = self.breakers.setdefault(name, [])
                        if state == "unknown" and lane:
                            continue  # a caller away keeps its last known state
                        if not lane or lane[-1]["state"] != state:
                            lane.append({"t": round(t, 2), "state": state})
                self._sampler_stop.wait(BREAKER_SAMPLE_S)

    def _safeguards(self, seconds: list[Second], now: float) -> None:
        for guard, spec_, judge in zip(
            self.safeguards, self.scenario.safeguards, self.judges, strict=True
        ):
            if now < spec_.grace or not seconds:
                continue
            judge.tick(seconds, now)
            verdict = judge.verdicts[0]
            guard["value"] = verdict.value
            failed = verdict.failure is not None or (
                verdict.latest is not None
                and verdict.latest.ok is False
                and verdict.threshold.window_s is None
            )
            if failed:
                guard.update(tripped=True, at_s=_r(now))
                raise SafeguardTripped(guard["name"], now, verdict.value)

    def _recoveries(self, seconds: list[Second] | None, *, loaded: bool = True) -> None:
        """For each healed fault not yet recovered: is steady state back? (queues under load
        get the in-transit allowance; the audit is judged at the end)."""
        waiting = [s for s in self.faults_state if s.status == "healed" and s.recovery_s is None]
        if not waiting:
            return
        since = int(max(s.healed_s or 0 for s in waiting)) + 1
        results = self.prober.check(seconds, loaded=loaded, since=since if loaded else None)
        if met(results):
            now = self.elapsed()
            for state in waiting:
                state.recovery_s = max(0.0, now - (state.healed_s or now))

    def _roll_back(self, faults: Faults) -> bool:
        """Heal everything still applied, stop the load, run the scenario's rollbacks;
        False when something could not be undone."""
        self._stop_load()
        ok = True
        for state in self.faults_state:
            if state.status == "applied":
                self._heal(faults, state)
        problems = faults.heal()
        for problem in problems:
            self._activity(
                {"type": "action", "name": "heal"},
                now_iso(),
                "failed",
                None,
                problem,
                self.rollbacks,
            )
        ok = not problems and all(s.status != "heal_failed" for s in self.faults_state)
        for rollback in self.scenario.rollbacks:
            started = now_iso()
            name = _rollback_name(rollback)
            try:
                self._rollback(rollback)
            except Exception as exc:
                ok = False
                self._activity(
                    {"type": "action", "name": name},
                    started,
                    "failed",
                    None,
                    str(exc),
                    self.rollbacks,
                )
            else:
                self._activity(
                    {"type": "action", "name": name},
                    started,
                    "succeeded",
                    None,
                    None,
                    self.rollbacks,
                )
        return ok

    def _rollback(self, rollback: Any) -> None:
        from harness import processes
        from harness.toxiproxy import ToxiproxyClient

        if isinstance(rollback, RestartRollback):
            if not processes.alive(self.stack.pid(rollback.restart)):
                self.stack.restart(rollback.restart)
        elif isinstance(rollback, ResetProxiesRollback):
            with ToxiproxyClient(self.stack.toxiproxy_url) as client:
                for name, proxy in client.proxies().items():
                    for toxic in proxy.get("toxics") or []:
                        client.remove_toxic(name, toxic["name"])
                    if not proxy.get("enabled", True):
                        client.update_proxy(name, enabled=True)
        elif isinstance(rollback, WaitReadyRollback):
            self.stack.wait_ready(timeout=rollback.wait_ready)

    def _after(self) -> None:
        """Wait (up to the recovery timeout) for steady state without load; finish the
        recovery times of faults whose recovery the load's end cut short; then the audit."""
        deadline = time.monotonic() + self.scenario.recovery_timeout
        results = self.prober.check(None, loaded=False)
        settling = None
        try:
            while not met(results) and time.monotonic() < deadline:
                if settling is None and self.scenario.load is not None:
                    settling = self._settling_traffic()
                time.sleep(1.0)
                # The settling bookings' events are in transit too: allow for them.
                in_transit = settling is not None
                self._recoveries(None, loaded=in_transit)
                results = self.prober.check(None, loaded=in_transit)
        finally:
            if settling is not None:
                settling.stop()
        seconds = self.seconds()
        if seconds:
            results += self.prober.check(seconds, loaded=True, kinds={"threshold"})
        wants_audit = any(
            isinstance(e, AuditCleanExpectation) for e in self.scenario.expectations
        ) or any(p.__class__.__name__ == "AuditCleanProbe" for p in self.prober.probes)
        if wants_audit:
            report = self.prober.audit()
            self.audit = _audit_json(report)
            results += self.prober.check(None, loaded=False, audit=True, kinds={"audit_clean"})
        self.steady["after"] = _steady(results)
        self._sampler_stop.set()

    def _settling_traffic(self) -> Any:
        """A booking a second while waiting for steady state after the run: a breaker that
        opened closes again only when a request tries the edge. Its figures are not the
        run's (they have their own recorder)."""
        from scenarios.traffic import BookingTraffic

        traffic = BookingTraffic(
            self.stack.gateway_url,
            rate=1.0,
            duration_s=self.scenario.recovery_timeout,
            seed=self.seed + 1,
        )
        try:
            traffic.start()
        except Exception as exc:  # the suite may still be away: keep probing without it
            log.warning("no settling traffic: %s", exc)
            return None
        return traffic

    # -- verdicts ----------------------------------------------------------------------------

    def _judge(self, rolled_back: bool) -> None:
        seconds = self.seconds()
        for exp in self.scenario.expectations:
            self.expectations.append(self._expectation(exp, seconds))
        self.end_iso = now_iso()
        failed = [e for e in self.expectations if e["ok"] is not True]
        after_ok = self.steady.get("after", {}).get("steady_state_met", False)
        if not rolled_back:
            self.outcome, self.exit_code = "rollback_failed", EXIT_ROLLBACK_FAILED
            self.status = "failed" if self.status == "running" else self.status
        elif self.outcome == "aborted":
            self.exit_code = EXIT_ABORTED
        elif self.outcome == "interrupted":
            self.exit_code = EXIT_INTERRUPTED
        elif self.outcome in ("failed", "error"):
            self.exit_code = EXIT_FAILED
        elif failed or not after_ok:
            self.status, self.outcome, self.exit_code = "completed", "failed", EXIT_FAILED
        else:
            self.status, self.outcome, self.exit_code = "completed", "passed", EXIT_PASSED
        if self.dashboard is not None:
            self._publish()
            self.dashboard.close()

    def _expectation(self, exp: Any, seconds: list[Second]) -> dict[str, Any]:
        base = {"phase": exp.phase, "ok": False, "value": None, "detail": None}
        if isinstance(exp, ThresholdExpectation):
            start, end = self.scenario.span(exp.phase)
            # Whole seconds inside the phase only: requests begun in the second a fault
            # strikes (or heals) belong to neither side.
            chosen = [s for s in seconds if start <= s.t and s.t + 1 <= end]
            threshold = parse(exp.threshold)
            ok, value, detail = _judge_threshold(threshold, chosen)
            return base | {
                "name": exp.name or f"{exp.threshold} during {exp.phase}",
                "kind": "threshold",
                "expression": exp.threshold,
                "ok": ok,
                "value": value,
                "detail": detail,
            }
        if isinstance(exp, BreakerOpensExpectation):
            state = self._fault(exp.phase)
            expression = f"breaker {exp.breaker_opens} opens within {exp.within:g}s"
            result = base | {
                "name": exp.name or f"breaker {exp.breaker_opens} opens within {exp.within:g} s",
                "kind": "breaker_opens",
                "expression": expression,
            }
            if state.applied_s is None:
                return result | {"detail": "the fault was never applied"}
            lane = self.breakers.get(exp.breaker_opens, [])
            opened = [
                c["t"] for c in lane if c["state"] == "open" and c["t"] >= state.applied_s - 0.5
            ]
            if not opened:
                seen = sorted({c["state"] for c in lane}) or ["no state read"]
                return result | {
                    "detail": f"never opened during {exp.phase} (states seen: {', '.join(seen)})"
                }
            took = max(0.0, opened[0] - state.applied_s)
            return result | {
                "ok": took <= exp.within,
                "value": round(took, 2),
                "detail": f"open {took:.2f} s after the fault was applied",
            }
        if isinstance(exp, RecoversWithinExpectation):
            state = self._fault(exp.of) if exp.of else self.faults_state[-1]
            name = state.entry.name
            result = base | {
                "name": exp.name
                or f"steady state back within {exp.recovers_within:g} s of {name}'s end",
                "kind": "recovers_within",
                "expression": f"recovers within {exp.recovers_within:g}s of {name}",
            }
            if state.recovery_s is None:
                why = (
                    "the fault was never healed"
                    if state.healed_s is None
                    else ("steady state never came back")
                )
                return result | {"detail": why}
            return result | {
                "ok": state.recovery_s <= exp.recovers_within,
                "value": round(state.recovery_s, 2),
                "detail": f"steady state met {state.recovery_s:.1f} s after the heal",
            }
        assert isinstance(exp, AuditCleanExpectation)
        result = base | {
            "name": exp.name or "audit clean",
            "kind": "audit_clean",
            "expression": "audit clean",
        }
        if self.audit is None:
            return result | {"detail": "no audit ran"}
        counts = self.audit["counts"]
        bad = sum(counts.get(k, 0) for k in ("lost", "duplicated", "stuck", "unexpected"))
        detail = (
            f"{counts.get('ok', 0)} checked: {counts.get('lost', 0)} lost, "
            f"{counts.get('duplicated', 0)} duplicated, {counts.get('stuck', 0)} stuck, "
            f"{counts.get('unexpected', 0)} unexpected"
            + ("" if self.audit["quiet"] else "; the suite never went quiet")
        )
        return result | {"ok": self.audit["clean"], "value": bad, "detail": detail}

    def _fault(self, name: str) -> FaultState:
        return next(s for s in self.faults_state if s.entry.name == name)

    # -- the journal ---------------------------------------------------------------------------

    def journal(self) -> dict[str, Any]:
        duration = None
        if self.end_iso is not None:
            duration = round(
                (
                    datetime.fromisoformat(self.end_iso.replace("Z", "+00:00"))
                    - datetime.fromisoformat(self.start_iso.replace("Z", "+00:00"))
                ).total_seconds(),
                2,
            )
        load = self.scenario.load
        with self._lock:
            breakers = {k: list(v) for k, v in self.breakers.items()}
        journal: dict[str, Any] = {
            "faultline": {"version": VERSION, "kind": "gameday"},
            "experiment": {
                "title": self.scenario.title,
                "description": self.scenario.description,
                "file": self.options.source,
            },
            "status": self.status,
            "deviated": bool(self.outcome == "failed"),
            "start": self.start_iso,
            "end": self.end_iso,
            "duration": duration,
            "steady_states": self.steady,
            "run": self.run_log,
            "rollbacks": self.rollbacks,
            "outcome": self.outcome if self.status != "running" else None,
            "exit_code": self.exit_code,
            "seed": self.seed,
            "time_scale": self.options.time_scale,
            "replay": self.options.replay,
            "abort": self.abort,
            "load": None
            if load is None
            else {
                "profile": load.profile,
                "overrides": {
                    k: v for k, v in (("rate", load.rate), ("users", load.users)) if v is not None
                },
                "model": "open" if load.rate else "closed",
            },
            "phases": [
                {"name": n, "start_s": round(a, 2), "end_s": round(b, 2)}
                | ({"fault": n} if n not in ("before", "after") else {})
                for n, a, b in self.scenario.phases()
            ],
            "faults": [s.to_json() for s in self.faults_state],
            "expectations": self.expectations,
            "safeguards": self.safeguards,
            "metrics": {
                "seconds": per_second(self.seconds()),
                "threshold_lines": self._threshold_lines(),
            },
            "breakers": breakers,
            "audit": self.audit,
            "traces": [],
            "dashboard": self.dashboard_url,
        }
        return journal

    def _threshold_lines(self) -> list[dict[str, Any]]:
        lines = []
        pairs = [
            (e.threshold, e.phase)
            for e in self.scenario.expectations
            if isinstance(e, ThresholdExpectation)
        ]
        pairs += [(s.threshold, None) for s in self.scenario.safeguards]
        for text, phase in pairs:
            t = parse(text)
            if t.metric == "http_req_duration" and t.aggregator == "p" and t.percentile == 95:
                chart = "p95_ms"
            elif t.metric == "http_req_failed" and t.aggregator == "rate":
                chart = "error_rate"
            else:
                continue
            label = f"{t.condition} during {phase}" if phase else f"safeguard {t.condition}"
            if phase in ("before", "after"):
                label = f"{t.condition} {phase}"
            lines.append({"chart": chart, "value": t.target, "label": label, "phase": phase})
        return lines

    def _publish(self) -> None:
        snapshot = self.journal()
        if self.dashboard is not None:
            self.dashboard.publish(snapshot)
        if self.options.on_tick is not None:
            self.options.on_tick(snapshot)

    def _write(self) -> None:
        journal = self.journal()
        with contextlib.suppress(ImportError):
            from harness import traces  # type: ignore[attr-defined]

            pick = getattr(traces, "pick_traces", None)
            if pick is not None:
                with contextlib.suppress(Exception):
                    journal["traces"] = pick(journal, self.stack)
        self.final = journal
        if self.options.report_dir is not None:
            from scenarios.report import write_reports

            write_reports(journal, self.options.report_dir)


def _rollback_name(rollback: Any) -> str:
    if isinstance(rollback, RestartRollback):
        return f"restart {rollback.restart}"
    if isinstance(rollback, ResetProxiesRollback):
        return "reset every proxy"
    return f"wait until ready ({rollback.wait_ready:g}s)"


def _steady(results: list[ProbeResult]) -> dict[str, Any]:
    return {"steady_state_met": met(results), "probes": [r.to_json() for r in results]}


def _judge_threshold(threshold: Any, seconds: list[Second]) -> tuple[bool, float | None, str]:
    if threshold.window_s is None:
        ev = evaluate(threshold, seconds, min_samples=1)
        if ev.value is None or ev.ok is None:
            return False, None, "no samples in this phase"
        unit = " ms" if threshold.metric.endswith("duration") else ""
        relation = "holds" if ev.ok else "fails"
        return ev.ok, round(ev.value, 4), f"{ev.value:.4g}{unit}: {threshold.condition} {relation}"
    judge = Judge([threshold], min_samples=5)
    for i in range(len(seconds)):
        judge.tick(seconds[: i + 1], float(i + 1))
    verdict = judge.finish(seconds, float(len(seconds)))[0]
    return verdict.ok, verdict.value, verdict.describe()


def per_second(seconds: list[Second]) -> list[dict[str, Any]]:
    """The report's rows: rps, p95/p50, error rate per second, and the same per request name."""
    rows = []
    for s in seconds:
        one = [s]
        durations = aggregate(one, "http_req_duration")
        failed = aggregate(one, "http_req_failed")
        names = sorted(
            {dict(tags).get("name") for (m, tags) in s.trends if m == "http_req_duration"} - {None}
        )
        by_name = {}
        for name in names:
            tags = (("name", name),)
            d = aggregate(one, "http_req_duration", tags)
            f = aggregate(one, "http_req_failed", tags)
            by_name[name] = {
                "rps": len(d.values),
                "p95_ms": _r(d.percentile(95), 1),
                "error_rate": _r(f.figure("rate"), 4),
            }
        rows.append(
            {
                "t": s.t,
                "rps": len(durations.values),
                "p95_ms": _r(durations.percentile(95), 1),
                "p50_ms": _r(durations.percentile(50), 1),
                "error_rate": _r(failed.figure("rate"), 4),
                "iterations": int(aggregate(one, "iterations").count),
                "dropped": int(aggregate(one, "dropped_iterations").count),
                "by_name": by_name,
            }
        )
    return rows


def _audit_json(report: Any) -> dict[str, Any]:
    return {
        "clean": bool(report.passed and report.quiet),
        "quiet": report.quiet,
        "counts": report.counts(),
        "invariants": [
            {
                "name": c.invariant,
                "ok": c.passed,
                "findings": [str(f) for f in c.findings[:20]],
            }
            for c in report.checks
        ],
        "dead_letters": len(report.dead_letters),
        "summary": report.summary(),
    }


def replay_command(path: str, seed: int, time_scale: float) -> str:
    parts = ["faultline", "gameday", path, "--seed", str(seed)]
    if time_scale != 1.0:
        parts += ["--time-scale", f"{time_scale:g}"]
    return shlex.join(parts)
