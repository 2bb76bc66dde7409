"""What a running stack left on disk (`.faultline/stack.json`) for `down`, `status` and reuse."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UserError

HOME_ENV = "FAULTLINE_HOME"


def home() -> Path:
    """Where runs keep their state and logs: `$FAULTLINE_HOME` or `./.faultline`."""
    return Path(os.environ.get(HOME_ENV) or ".faultline")


def default_state_file() -> Path:
    return home() / "stack.json"


@dataclass
class ServiceState:
    name: str
    pid: int
    port: int
    url: str
    app: str
    log: str
    database: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class ProxyState:
    name: str
    listen: str
    upstream: str


@dataclass
class StackState:
    run_id: str
    topology: str
    namespace: str
    postgres_url: str
    rabbitmq_url: str
    toxiproxy_url: str
    toxiproxy_embedded: bool
    toxiproxy_pid: int | None
    gateway_url: str
    services: dict[str, ServiceState]
    proxies: dict[str, ProxyState]
    databases: list[str]
    exchanges: list[str]
    queues: list[str]
    run_dir: str
    supervisor_pid: int
    stopping: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackState:
        data = dict(data)
        data["services"] = {k: ServiceState(**v) for k, v in data["services"].items()}
        data["proxies"] = {k: ProxyState(**v) for k, v in data["proxies"].items()}
        return cls(**data)


def write_state(state: StackState, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".stack-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(state.to_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path) -> StackState | None:
    """The recorded stack, or None when nothing was started from here."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return StackState.from_dict(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        raise UserError(f"state file {path} is unreadable ({exc}); remove it and retry") from None
