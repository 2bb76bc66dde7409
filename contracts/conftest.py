from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()
