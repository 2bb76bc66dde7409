"""Where pact files live and what they hold (V4 JSON, one file per consumer-provider pair)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACT_DIR = Path(__file__).resolve().parent / "pacts"
HTTP = "Synchronous/HTTP"
MESSAGE = "Asynchronous/Messages"


@dataclass(frozen=True)
class PactFile:
    path: Path
    consumer: str
    provider: str
    interactions: tuple[dict[str, Any], ...]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.interactions if i.get("type") == kind]

    def event_types(self) -> set[str]:
        """The `type` field of every message body: which events the consumer relies on."""
        types = set()
        for message in self.of_type(MESSAGE):
            content = (message.get("contents") or {}).get("content")
            if isinstance(content, dict) and isinstance(content.get("type"), str):
                types.add(content["type"])
        return types


def pact_file_name(consumer: str, provider: str) -> str:
    return f"{consumer}-{provider}.json"


def load_pacts(directory: Path = PACT_DIR) -> dict[tuple[str, str], PactFile]:
    pacts = {}
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        pact = PactFile(
            path=path,
            consumer=raw["consumer"]["name"],
            provider=raw["provider"]["name"],
            interactions=tuple(raw.get("interactions", [])),
        )
        pacts[(pact.consumer, pact.provider)] = pact
    return pacts


def providers(directory: Path = PACT_DIR) -> dict[str, list[PactFile]]:
    """Pact files grouped by provider: what each provider must verify."""
    grouped: dict[str, list[PactFile]] = {}
    for pact in load_pacts(directory).values():
        grouped.setdefault(pact.provider, []).append(pact)
    return grouped
