"""Graceful degradation: the gateway serves the last good facility list, marked stale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import RECOVERY_S, run
from chaos.experiments.suite import Suite
from chaos.faults import Faults
from harness.suite_client import Answer, FacilityList, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

EDGE = "gateway->facilities"


def stale_facilities(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack, "degradation", "stale facility list while facilities is down", _body, seed=seed
    )


def _ids(answer: Answer[FacilityList]) -> set[str]:
    return answer.value.ids if answer.value else set()


def _stale(answer: Answer[FacilityList]) -> bool | None:
    return answer.value.stale if answer.value else None


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    suite.facility()
    listing = suite.public(timeout=10.0).try_facilities
    fresh = listing()
    result.expect(
        "fresh list while healthy",
        fresh.status == 200 and _stale(fresh) is False and bool(_ids(fresh)),
        f"{fresh.describe()}, stale={_stale(fresh)}, {len(_ids(fresh))} facilities",
    )
    with faults.down(EDGE):
        wait_until(lambda: _stale(listing()) is True, 5.0, 0.1)
        stale = listing()
        result.expect(
            "stale list served while facilities is down",
            stale.status == 200 and _stale(stale) is True and _ids(stale) == _ids(fresh),
            f"{stale.describe()}, stale={_stale(stale)}, "
            f"{len(_ids(stale))} of {len(_ids(fresh))} facilities",
        )
    again = wait_until(lambda: _stale(listing()) is False, RECOVERY_S + 10, 0.1)
    result.expect("fresh again after heal", again, f"last answer stale={_stale(listing())}")
