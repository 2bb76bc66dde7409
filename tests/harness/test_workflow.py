"""The GitHub Actions workflow a team copies: valid for GitHub, and doing what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import compose

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "faultline.yml"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def check(path: Path, schema: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def job() -> dict:
    (only,) = yaml.safe_load(WORKFLOW.read_text())["jobs"].values()
    return only


def test_workflow_validates_against_the_github_workflow_schema_and_has_a_timeout():
    for schema in ("vendor.github-workflows", "custom.github-workflows-require-timeout"):
        result = check(WORKFLOW, schema)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("runs-on: ubuntu-24.04", "run-on: ubuntu-24.04"),  # a misspelt key
        ("timeout-minutes: 30", "timeout-minutes: soon"),  # a wrong type
    ],
)
def test_the_schema_check_rejects_a_broken_workflow(tmp_path, old, new):
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(old, new))
    assert check(broken, "vendor.github-workflows").returncode == 1


def test_postgres_and_rabbitmq_run_as_healthy_service_containers_where_faultline_looks():
    services = job()["services"]
    assert services["postgres"]["image"] == compose.POSTGRES_IMAGE
    assert services["rabbitmq"]["image"] == compose.RABBITMQ_IMAGE
    assert "5432:5432" in services["postgres"]["ports"]
    assert "5672:5672" in services["rabbitmq"]["ports"]
    for service in services.values():
        # Without a health command the job's steps start before the server accepts connections.
        assert "--health-cmd" in service["options"]
    env = job()["env"]
    assert env["FAULTLINE_POSTGRES_URL"].startswith("postgresql://postgres@127.0.0.1:5432/")
    assert env["FAULTLINE_RABBITMQ_URL"].startswith("amqp://guest:guest@127.0.0.1:5672/")


def test_the_job_installs_faultline_runs_the_campaign_and_always_uploads_the_reports():
    steps = job()["steps"]
    runs = [s.get("run", "") for s in steps]
    install = next(i for i, r in enumerate(runs) if "pip install" in r)
    campaign = runs.index("faultline run")
    assert install < campaign
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert {s["with"]["path"] for s in uploads} == {"reports/", "reports/**/*.xml"}
    for step in uploads:
        # A failing campaign is exactly when the reports matter.
        assert step["if"] == "always()"
        assert steps.index(step) > campaign
