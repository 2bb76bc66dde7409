"""Matchers for the fields the consumers read, shared by every consumer test."""

from __future__ import annotations

from typing import Any

from pact import match

ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
PROBLEM_JSON = "application/problem+json"
JSON = "application/json"


def uuid(example: str) -> Any:
    return match.uuid(example, format="lowercase")


def timestamp(example: str) -> Any:
    return match.regex(example, regex=ISO_DATETIME)


def day(example: str) -> Any:
    return match.regex(example, regex=ISO_DATE)


def problem(status: int, title: str) -> dict[str, Any]:
    """An RFC 9457 body: the consumers relay `status`, `title` and `detail` to their callers."""
    return {
        "type": match.str("about:blank"),
        "title": match.str(title),
        "status": status,
        "detail": match.str(f"{title.lower()}: example detail"),
    }
