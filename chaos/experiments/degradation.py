"""Graceful degradation: the gateway serves the last good facility list, marked stale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaos.experiments.result import Result
from chaos.experiments.runner import RECOVERY_S, run
from chaos.experiments.suite import Answer, Suite
from chaos.faults import Faults

if TYPE_CHECKING:
    from harness.stack import Stack

EDGE = "gateway->facilities"


def stale_facilities(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack, "degradation", "stale facility list while facilities is down", _body, seed=seed
    )


def _token(suite: Suite) -> dict[str, str]:
    answer = suite.call(
        "POST", "gateway", "/api/auth/token", data={"username": "demo", "password": "demo"}
    )
    if answer.status != 200 or not isinstance(answer.body, dict):
        raise RuntimeError(f"gateway refused the demo login: {answer.describe()}")
    return {"Authorization": f"Bearer {answer.body['access_token']}"}


def _ids(answer: Answer) -> set[Any]:
    items = answer.body.get("items", []) if isinstance(answer.body, dict) else []
    return {i.get("id") for i in items if isinstance(i, dict)}


def _stale(answer: Answer) -> bool | None:
    return answer.body.get("stale") if isinstance(answer.body, dict) else None


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    suite.facility()
    auth = _token(suite)
    listing = lambda: suite.call("GET", "gateway", "/api/facilities", headers=auth)  # noqa: E731
    fresh = listing()
    result.expect(
        "fresh list while healthy",
        fresh.status == 200 and _stale(fresh) is False and bool(_ids(fresh)),
        f"{fresh.describe()}, stale={_stale(fresh)}, {len(_ids(fresh))} facilities",
    )
    with faults.down(EDGE):
        suite.wait_for(lambda: _stale(listing()) is True, 5.0, 0.1)
        stale = listing()
        result.expect(
            "stale list served while facilities is down",
            stale.status == 200 and _stale(stale) is True and _ids(stale) == _ids(fresh),
            f"{stale.describe()}, stale={_stale(stale)}, "
            f"{len(_ids(stale))} of {len(_ids(fresh))} facilities",
        )
    again = suite.wait_for(lambda: _stale(listing()) is False, RECOVERY_S + 10, 0.1)
    result.expect("fresh again after heal", again, f"last answer stale={_stale(listing())}")
