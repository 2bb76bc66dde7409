"""The JSON Schema of scenario files, generated from `scenarios.model` so the two never differ.

    python -m scenarios.schema            # rewrites scenarios/scenario.schema.json

Editors validate a scenario with it (a `# yaml-language-server: $schema=...` line, or the
editor's YAML schema settings); a test checks the shipped file equals what the model gives.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scenarios.model import Scenario

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")


def schema() -> dict[str, Any]:
    generated = Scenario.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **generated}


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(render())
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
