import json

import pytest
import typer
from typer.testing import CliRunner

from contracts.campaign import verified_pairs
from faultline.commands.contracts import contracts, fuzz
from harness.errors import UserError

pytestmark = pytest.mark.contract


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("contracts")(contracts)
    app.command("fuzz")(fuzz)
    return app


def test_an_unknown_service_is_refused_before_anything_starts():
    result = CliRunner().invoke(_app(), ["fuzz", "--service", "billing"])
    assert isinstance(result.exception, UserError)
    assert "unknown service 'billing'" in str(result.exception)


def test_verification_results_are_counted_per_pair(tmp_path):
    rows = [
        {"consumer": "gateway", "provider": "users", "description": "a", "ok": True},
        {"consumer": "gateway", "provider": "users", "description": "b", "ok": False},
        {"consumer": "notifications", "provider": "users", "description": "c", "ok": True},
    ]
    (tmp_path / "users.json").write_text(json.dumps(rows))
    assert verified_pairs(tmp_path) == {
        ("gateway", "users"): (1, 1),
        ("notifications", "users"): (1, 0),
    }
