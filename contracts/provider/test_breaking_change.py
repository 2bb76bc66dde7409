"""A provider change that breaks a consumer is caught, with a message that says what broke.

The real users app is served with one response field renamed (`name` -> `full_name`), as a
careless refactoring of its response model would; verification against the committed pacts
must fail and name the interaction and the missing field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.provider.apps import build
from contracts.provider.users import users_states
from contracts.provider.verify import VerificationFailed, verify_provider
from contracts.serving import serve

pytestmark = pytest.mark.contract


class RenameField:
    """ASGI middleware renaming a top-level field of every JSON object response."""

    def __init__(self, app: Any, old: str, new: str) -> None:
        self.app, self.old, self.new = app, old, new

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict = {}
        chunks: list[bytes] = []

        async def capture(message: dict) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and self.old in doc:
                doc[self.new] = doc.pop(self.old)
                body = json.dumps(doc).encode()
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def test_renamed_response_field_fails_verification_readably(sandbox):
    app = build("users", sandbox)
    with serve(RenameField(app, "name", "full_name")) as served:
        served.run(app.state.broker.wait_ready(15), timeout=20)
        with pytest.raises(VerificationFailed) as failure:
            verify_provider(
                "users", url=served.url, states=users_states(served, app), keep_results=False
            )
    message = str(failure.value)
    assert message.startswith("provider 'users' breaks what its consumers expect:")
    assert "a request for a user" in message
    assert "Actual map is missing the following keys: name" in message
    # Interactions whose responses carry no `name` still pass: only the real break is named.
    assert "a request for a user that does not exist" not in message.split("verifier report:")[0]
