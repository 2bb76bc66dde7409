"""Which stack an activity acts on, and where its faults are journaled.

Chaos Toolkit calls each activity as a plain function, and nothing is kept in memory between
them that the next one could rely on: every activity attaches to the running stack through its
state file, and every fault lives in the stack's fault journal until healed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.stack import Stack
from harness.state import default_state_file

STATE_FILE_KEY = "faultline_state_file"  # experiment configuration keys
JOURNAL_KEY = "faultline_fault_journal"
STATE_FILE_ENV = "FAULTLINE_STATE_FILE"
JOURNAL_FILE = "faults.jsonl"  # in the run's directory: one journal per stack run


def _setting(configuration: Mapping[str, Any] | None, key: str) -> str | None:
    value = (configuration or {}).get(key)
    return str(value) if value else None


def state_file(configuration: Mapping[str, Any] | None = None) -> Path:
    """The experiment's `faultline_state_file`, else `$FAULTLINE_STATE_FILE`, else the one
    `faultline up` writes."""
    chosen = _setting(configuration, STATE_FILE_KEY) or os.environ.get(STATE_FILE_ENV)
    return Path(chosen) if chosen else default_state_file()


def attach(configuration: Mapping[str, Any] | None = None) -> Stack:
    """The running stack; a `UserError` saying how to start one when there is none."""
    path = state_file(configuration)
    stack = Stack.attach(path)
    if stack is None or not stack.running():
        raise UserError(
            f"no running faultline stack recorded in {path}: start one with "
            f"`faultline up --detach`, or set {STATE_FILE_KEY} in the experiment's configuration"
        )
    return stack


def journal_path(stack: Stack, configuration: Mapping[str, Any] | None = None) -> Path:
    """`faultline_fault_journal` if configured, else `faults.jsonl` in the stack's run
    directory, so that any process attached to the same run finds the same faults."""
    chosen = _setting(configuration, JOURNAL_KEY)
    if chosen:
        return Path(chosen)
    if stack.state is None:  # attach() returns only recorded stacks
        raise UserError("the stack is not running")
    return Path(stack.state.run_dir) / JOURNAL_FILE
