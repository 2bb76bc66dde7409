"""Crash recovery: SIGKILL the saga orchestrator mid-saga, several times, at seeded moments."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import run, warm_up
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults, toxics
from harness.suite_client import Answer, Slot

if TYPE_CHECKING:
    from harness.stack import Stack

ROUNDS = 3
PER_ROUND = 4
WINDOW_S = 0.6  # sagas take about this long with the latency below


def crash_recovery(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "crash-recovery", "persisted saga resumed after SIGKILL", _body, seed=seed)


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    requests: list[tuple[str, Slot]] = []
    interrupted = 0
    moments = []
    # Slow both saga edges a little so that every kill lands with sagas in flight.
    with (
        faults.toxic("bookings->facilities", toxics.latency(100)),
        faults.toxic("bookings->payments", toxics.latency(150)),
        ThreadPoolExecutor(PER_ROUND) as pool,
    ):
        for _ in range(ROUNDS):
            batch = [(uuid.uuid4().hex, suite.slot()) for _ in range(PER_ROUND)]
            requests += batch
            t0 = time.monotonic()
            futures = [pool.submit(_place, suite, facility, key, slot) for key, slot in batch]
            moment = faults.random.uniform(0.05, WINDOW_S)
            moments.append(round(moment, 3))
            faults.sleep_until(t0, moment)
            faults.kill("bookings")
            answers = [f.result() for f in futures]
            interrupted += sum(1 for a in answers if a.status is None)
            faults.restart("bookings")
    result.measure("kill_moments_s", moments)
    result.measure("requests_cut_by_a_kill", interrupted)
    # A client whose request was cut retries it with the same idempotency key.
    ids = [_place(suite, facility, key, slot).booking_id for key, slot in requests]
    known = [i for i in ids if i]
    result.expect(
        "every request replayable after restart",
        len(known) == len(requests),
        f"{len(requests) - len(known)} of {len(requests)} keys answered no booking on replay",
    )
    final = suite.wait_settled(known, 30.0)
    unsettled = [i for i in known if i not in final or not final[i].settled]
    outcomes = sorted({str(status_of(final, i)) for i in known})
    result.expect(
        "every booking terminal after the crashes",
        not unsettled,
        f"{len(unsettled)} of {len(known)} not settled after {ROUNDS} kills"
        if unsettled
        else f"{len(known)} bookings settled ({', '.join(outcomes)}) after {ROUNDS} kills",
    )


def _place(suite: Suite, facility: str, key: str, slot: Slot) -> Answer:
    return suite.book(facility, key=key, slot=slot, timeout_s=10.0)
