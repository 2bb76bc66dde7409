"""Every HTTP edge and every event of the topology must be covered by a pact."""

from __future__ import annotations

from pathlib import Path

from contracts.pactfiles import HTTP, PACT_DIR, load_pacts, pact_file_name
from harness.topology import Topology


def missing_contracts(topology: Topology, directory: Path = PACT_DIR) -> list[str]:
    """One line per edge or event (consumer side) that has no interaction in a pact file."""
    pacts = load_pacts(directory)
    missing = []
    for edge in topology.edges:
        if edge.kind != "http":
            continue
        pact = pacts.get((edge.source, edge.target))
        if pact is None or not pact.of_type(HTTP):
            missing.append(
                f"http edge {edge.proxy_name}: no HTTP interaction in "
                f"{pact_file_name(edge.source, edge.target)}"
            )
    for event in topology.events:
        for consumer in event.consumers:
            pact = pacts.get((consumer, event.producer))
            if pact is None or event.name not in pact.event_types():
                missing.append(
                    f"event {event.name} ({event.producer} -> {consumer}): no message in "
                    f"{pact_file_name(consumer, event.producer)}"
                )
    return missing
