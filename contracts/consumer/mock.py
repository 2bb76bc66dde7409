"""Running a consumer against the Pact mock provider, and recording the pact on success."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pact import Pact

from contracts.pactfiles import PACT_DIR

# Never listened on: a downstream a test does not expect to be called fails loudly (503).
UNUSED_URL = "http://127.0.0.1:9"


@contextmanager
def mock_provider(pact: Pact) -> Iterator[str]:
    """Serve `pact`'s interactions; on a clean exit (every interaction matched, nothing
    unexpected received) merge them into the pact file of the pair."""
    with pact.serve(addr="127.0.0.1") as server:
        yield str(server.url).rstrip("/")
    pact.write_file(PACT_DIR)
