"""Optional Pact Broker: with `PACT_BROKER_BASE_URL` set, pacts come from and results go to it.

Without it everything works from the files in `contracts/pacts/`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from contracts.pactfiles import PACT_DIR

BROKER_ENV = "PACT_BROKER_BASE_URL"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class BrokerConfig:
    url: str
    version: str
    branch: str

    @classmethod
    def from_env(cls) -> BrokerConfig | None:
        url = os.environ.get(BROKER_ENV, "").strip()
        if not url:
            return None
        version = _git("rev-parse", "HEAD")
        return cls(url=url, version=version, branch=_git("branch", "--show-current"))


def _git(*args: str) -> str:
    env_name = "PACT_APP_VERSION" if args[0] == "rev-parse" else "PACT_APP_BRANCH"
    if os.environ.get(env_name):
        return os.environ[env_name]
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def pact_cli() -> str | None:
    """The `pact` command line (shipped by pact-python-cli, a dependency), if installed."""
    beside = Path(sys.executable).with_name("pact")
    return str(beside) if beside.exists() else shutil.which("pact")


def broker_commands(config: BrokerConfig, pacticipants: list[str], pact_dir: Path = PACT_DIR):
    """The publish and can-i-deploy command lines (`pact broker …`)."""
    base = [pact_cli() or "pact", "broker"]
    publish = [
        *base,
        "publish",
        str(pact_dir),
        "--consumer-app-version",
        config.version,
        "--branch",
        config.branch,
        "--broker-base-url",
        config.url,
    ]
    can_i_deploy = [*base, "can-i-deploy", "--broker-base-url", config.url]
    for name in pacticipants:
        can_i_deploy += ["--pacticipant", name, "--version", config.version]
    return publish, can_i_deploy
