"""How a call that did not give what it promised is reported."""

from __future__ import annotations

from typing import Any

from .models import Answer


class SuiteError(Exception):
    """The suite refused a call, answered something unexpected, or did not answer.

    `status` is None when no answer came (`error` says why); `problem` is the RFC 9457 body
    of a refusal, when it has one."""

    def __init__(self, request: str, answer: Answer[Any]) -> None:
        self.request = request
        self.answer = answer
        super().__init__(self._message())

    @property
    def status(self) -> int | None:
        return self.answer.status

    @property
    def problem(self) -> dict[str, Any] | None:
        return self.answer.problem

    @property
    def body(self) -> Any:
        return self.answer.body

    @property
    def error(self) -> str | None:
        return self.answer.error

    @property
    def retry_after(self) -> float | None:
        return self.answer.retry_after

    def _message(self) -> str:
        answer = self.answer
        if answer.status is None:
            return f"{self.request}: no answer ({answer.error})"
        problem = answer.problem
        if problem is not None:
            said = f"{problem.get('title')}: {problem.get('detail')}"
        elif answer.error:
            said = answer.error
        else:
            said = str(answer.body)[:200]
        return f"{self.request} answered {answer.status}: {said}"


class AddressingError(ValueError):
    """The operation cannot be addressed this way (e.g. an internal route on a public client)."""
