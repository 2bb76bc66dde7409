"""Emptying a provider's tables between interactions (the outbox is kept: it is history)."""

from __future__ import annotations

from sqlalchemy import MetaData, text

from contracts.serving import Served


def truncate(served: Served, app, metadata: MetaData, *, keep: tuple[str, ...] = ()) -> None:
    names = [t.name for t in metadata.sorted_tables if t.name not in keep]

    async def run() -> None:
        async with app.state.db.transaction() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(names)} CASCADE"))

    served.run(run())
