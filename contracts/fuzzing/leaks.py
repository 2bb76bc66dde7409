"""What an HTTP response body must never reveal, and the shape every error must have.

Pure functions, so that the Schemathesis checks and their unit tests share one definition.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable

PROBLEM_MEDIA_TYPE = "application/problem+json"

STACK_TRACE = [
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+\.py", line \d+'),
    re.compile(r"\b\w+(Error|Exception): .*\n\s+at "),
]
SQL_TEXT = [
    re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.S),
    re.compile(r"\b(sqlalchemy|psycopg2?|asyncpg)\b", re.I),
    re.compile(r"Background on this error at"),
    re.compile(r"\b(UniqueViolation|ForeignKeyViolation|ExclusionViolation|IntegrityError)\b"),
    re.compile(r"\bpg_\w+\b|\bDETAIL:\s"),
]
_ADDRESSES = [
    re.compile(r"\b(postgres(ql)?(\+\w+)?|amqps?)://[^\s\"']+", re.I),
    re.compile(r"\b127\.0\.0\.1(:\d+)?\b"),
    re.compile(r"\blocalhost(:\d+)?\b", re.I),
    re.compile(r"\b(10|192\.168|172\.(1[6-9]|2\d|3[01]))(\.\d{1,3}){2,3}(:\d+)?\b"),
]


def _machine_names() -> list[re.Pattern[str]]:
    names = {socket.gethostname(), socket.getfqdn()}
    # A very short host name would match ordinary words; such names are not checked.
    return [
        re.compile(rf"\b{re.escape(n)}\b", re.I)
        for n in sorted(names)
        if n and len(n) >= 6 and n.lower() != "localhost"
    ]


INTERNAL_ADDRESS = _ADDRESSES + _machine_names()


def findings(text: str, patterns: Iterable[re.Pattern[str]], echoed: str = "") -> list[str]:
    """Matches of `patterns` in `text`, except text the client itself sent (an echo is no leak)."""
    found = []
    for pattern in patterns:
        for match in pattern.finditer(text):
            if match.group(0) not in echoed:
                found.append(match.group(0))
    return found


def problem_errors(status: int, media_type: str | None, body: bytes) -> list[str]:
    """Why an error answer is not an RFC 9457 problem body (empty when it is one)."""
    errors = []
    if (media_type or "").split(";")[0].strip().lower() != PROBLEM_MEDIA_TYPE:
        errors.append(f"Content-Type is {media_type!r}, not {PROBLEM_MEDIA_TYPE}")
    try:
        doc = json.loads(body)
    except ValueError:
        return [*errors, "body is not JSON"]
    if not isinstance(doc, dict):
        return [*errors, "body is not a JSON object"]
    for key in ("type", "title"):
        if not isinstance(doc.get(key), str):
            errors.append(f"{key!r} is missing or not a string")
    if doc.get("status") != status:
        errors.append(f"'status' is {doc.get('status')!r}, the response status is {status}")
    if "detail" in doc and doc["detail"] is not None and not isinstance(doc["detail"], str):
        errors.append("'detail' is not a string")
    return errors


def problem_title(body: bytes) -> str | None:
    """The `title` of a problem body, or None when the body is no JSON object with one."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    title = doc.get("title") if isinstance(doc, dict) else None
    return title if isinstance(title, str) else None
