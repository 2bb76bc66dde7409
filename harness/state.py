"""What a running stack left on disk (`.faultline/stack.json`) for `down`, `status` and reuse.

The records are pydantic dataclasses: a state file is checked field by field when read, and
one that does not match says which field is wrong.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import field
from pathlib import Path

from pydantic import TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

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
        return _STATE.dump_json(self, indent=2).decode() + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> StackState:
        """Parse and check a state file's text; raises pydantic's ValidationError."""
        return _STATE.validate_json(text)


_STATE = TypeAdapter(StackState)


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
        return StackState.from_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the document"
        raise UserError(
            f"state file {path} is unreadable ({where}: {error['msg']}); remove it and retry"
        ) from None
