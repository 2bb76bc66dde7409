"""How a fault is undone, as data: a step another process can run after this one died.

Every fault the API injects is remembered as one `UndoStep` (not a closure), so the same step
serves `Faults.heal()` in the injecting process and `faultline recover` reading a journal after
that process was SIGKILLed. Every step is idempotent: running it twice, or for a fault that was
never fully applied, does no harm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from harness import processes
from harness.toxiproxy import ToxiproxyClient, ToxiproxyError

if TYPE_CHECKING:
    from harness.stack import Stack

Op = Literal["remove_toxic", "enable", "resume", "restart"]


class UndoStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Op
    target: str  # a proxy name (remove_toxic, enable) or a service name (resume, restart)
    toxic: str | None = None  # remove_toxic: the toxic's name

    def describe(self) -> str:
        if self.op == "remove_toxic":
            return f"remove toxic {self.toxic} from {self.target}"
        return f"{self.op} {self.target}"


def run_step(step: UndoStep, stack: Stack, client: ToxiproxyClient) -> None:
    """Undo one fault on `stack`; raises when the undo itself fails."""
    if step.op == "remove_toxic":
        try:
            client.remove_toxic(step.target, step.toxic or "")
        except ToxiproxyError as exc:
            if exc.status != 404:  # already gone: a reset, or never applied
                raise
    elif step.op == "enable":
        client.update_proxy(step.target, enabled=True)
    elif step.op == "resume":
        stack.resume(step.target)
    elif step.op == "restart" and not processes.alive(stack.pid(step.target)):
        stack.restart(step.target)
