"""The runner's signal handling: the first SIGINT/SIGTERM stops the run, a later one cannot stop
the rollback, and the previous handlers come back afterwards."""

from __future__ import annotations

import os
import signal

import pytest

from scenarios.rollback import Interrupted, Interrupts


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_first_signal_interrupts_later_ones_are_only_noted(sig: int) -> None:
    before = signal.getsignal(sig)
    interrupts = Interrupts()
    with interrupts.installed():
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), sig)
        assert caught.value.signame == signal.Signals(sig).name
        # The rollback runs now: another signal must not break into it.
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.received == [
            signal.Signals(sig).name,
            signal.Signals(sig).name,
            "SIGTERM",
        ]
    assert signal.getsignal(sig) is before
