"""`faultline audit` from the command line: exit 0 on a healthy suite, 1 naming each violation."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chaos.experiments import compensation
from chaos.experiments.catalog import Weakening
from faultline.commands.chaos import audit, trace
from harness.errors import UserError

pytestmark = pytest.mark.chaos


def _run(stack: Any, *args: str, command: Any = audit) -> Any:
    app = typer.Typer()
    app.command()(command)
    return CliRunner().invoke(app, ["--state-file", str(stack.state_file), *args])


def test_audit_exits_0_on_a_healthy_suite(chaos_stack: Any, chaos_seed: int) -> None:
    assert compensation.declined(chaos_stack, seed=chaos_seed).passed

    outcome = _run(chaos_stack)

    assert outcome.exit_code == 0, outcome.output
    assert "audit passed" in outcome.output


def test_audit_exits_1_and_names_each_violation(weakened_stack: Any, chaos_seed: int) -> None:
    with Weakening("compensation", ("bookings",), "slot released").applied(weakened_stack):
        result = compensation.declined(weakened_stack, seed=chaos_seed)
    leaked = [f.subject for f in result.audit.violations] if result.audit else []
    assert leaked, result.report()

    outcome = _run(weakened_stack, "--timeout", "10")

    assert outcome.exit_code == 1, outcome.output
    for booking_id in leaked:
        assert f"compensated: unexpected {booking_id}: cancelled but its slot is still held" in (
            outcome.output
        )
    assert "Traceback" not in outcome.output
    # Why, not only what: the trace of a booking at fault, across the services it called.
    assert f"trace of booking {leaked[0]}" in outcome.output
    one = _run(weakened_stack, leaked[0], command=trace)
    assert one.exit_code == 0, one.output
    assert {"bookings", "facilities", "payments"} <= set(one.output.split())
    unknown = _run(weakened_stack, "no-such-booking", command=trace)
    assert isinstance(unknown.exception, UserError), unknown.output
