"""Has the suite gone quiet? The audit reads its final state only once it provably has.

Quiet means: no saga still running, no outbox row unpublished, and no event anywhere on its
way: not ready in a work queue, not waiting out a backoff in a delay queue, and not in the
hands of a consumer. AMQP shows only the first two (a passive declare counts *ready*
messages). An unacknowledged message is always held by one of the run's consumers, so each
consumer's `faultline_consumer_in_flight` gauge, read from its /metrics, accounts for it; a
consumer whose /metrics cannot be read (paused, dead, restarting) leaves the suite not quiet,
never quiet. When RabbitMQ's management API is reachable, its count of unacknowledged
messages is checked too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import httpx

from harness import polling
from harness.service_metrics import scrape_async

from .readers import Databases, Sources, connect

QUIET_TIMEOUT_S = 30.0
_POLL_S = 0.2
_SCRAPE_TIMEOUT_S = 2.0
IN_FLIGHT = "faultline_consumer_in_flight"
DELIVERIES = "faultline_consumer_deliveries"  # the counter's family name (without _total)
MANAGEMENT_PORT = 15672

_PENDING = "SELECT count(*) FROM bookings WHERE status = 'pending' OR NOT settled"
_BACKLOG = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
_SENT = "SELECT count(*) FROM notifications"


@dataclass(frozen=True)
class Activity:
    """What is still moving at one moment; `moving()` names each part in words."""

    pending_bookings: int = 0
    backlog: Mapping[str, int] = field(default_factory=dict)  # service -> unpublished rows
    queued: Mapping[str, int] = field(default_factory=dict)  # work queue -> ready
    delayed: Mapping[str, int] = field(default_factory=dict)  # delay queue -> waiting
    in_flight: Mapping[str, float] = field(default_factory=dict)  # consumer -> being handled
    unreadable: Mapping[str, str] = field(default_factory=dict)  # consumer -> why
    unacknowledged: Mapping[str, int] | None = None  # work queue -> count (management API)
    deliveries: Mapping[str, float] = field(default_factory=dict)  # consumer -> counter
    notifications: int = 0

    @property
    def outbox_backlog(self) -> int:
        return sum(self.backlog.values())

    @property
    def waiting(self) -> int:
        """Events in the broker or a consumer's hands: ready, delayed or being handled."""
        return (
            sum(self.queued.values())
            + sum(self.delayed.values())
            + int(sum(self.in_flight.values()))
        )

    @property
    def idle(self) -> bool:
        return not self.moving()

    def moving(self) -> list[tuple[str, str]]:
        """(subject, what it is doing) for everything that keeps the suite from being quiet."""
        found: list[tuple[str, str]] = []
        if self.pending_bookings:
            found.append(("bookings", f"{self.pending_bookings} bookings unfinished"))
        found += [
            (s, f"{n} events unpublished in its outbox") for s, n in self.backlog.items() if n
        ]
        found += [(q, f"{n} events ready, not yet consumed") for q, n in self.queued.items() if n]
        found += [(q, f"{n} events waiting out a backoff") for q, n in self.delayed.items() if n]
        found += [(c, f"{n:.0f} events being handled now") for c, n in self.in_flight.items() if n]
        found += [
            (c, f"cannot tell what it is handling: {why}") for c, why in self.unreadable.items()
        ]
        held = sum(self.in_flight.values())
        for queue, n in (self.unacknowledged or {}).items():
            if n:
                found.append((queue, f"{n} messages unacknowledged (management API)"))
        unaccounted = sum((self.unacknowledged or {}).values()) - held
        if self.unacknowledged is not None and unaccounted > 0 and not self.unreadable:
            found.append(
                ("broker", f"{unaccounted:.0f} unacknowledged messages not counted by a consumer")
            )
        return found

    def describe(self) -> str:
        moving = self.moving()
        if not moving:
            return "quiet"
        return "; ".join(f"{subject}: {what}" for subject, what in moving)

    def same_progress(self, other: Activity) -> bool:
        """Nothing was delivered or sent in between: an event caught between two counts (left
        one queue, not yet in a consumer's hands) would have moved one of these."""
        return self.deliveries == other.deliveries and self.notifications == other.notifications


async def _database_activity(sources: Sources) -> tuple[int, dict[str, int], int]:
    dbs = Databases(sources.databases)
    try:
        pending = await dbs.count("bookings", _PENDING)
        backlog = {}
        for service in dbs.engines:
            if await dbs.has_table(service, "outbox"):
                backlog[service] = await dbs.count(service, _BACKLOG)
        sent = await dbs.count("notifications", _SENT)
    finally:
        await dbs.close()
    return pending, backlog, sent


async def _ready_counts(sources: Sources) -> tuple[dict[str, int], dict[str, int]]:
    """Ready messages per work queue and per delay queue (a queue never declared holds none)."""
    queued: dict[str, int] = {}
    delayed: dict[str, int] = {}
    conn = await connect(sources.amqp_url)
    async with conn:
        channel = await conn.channel()
        for consumer in sources.consumers:
            names = [(sources.queue(consumer), queued)]
            names += [(name, delayed) for name in sources.delay_queues(consumer)]
            for name, into in names:
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    channel = await conn.channel()  # a failed passive declare closes it
                    continue
                into[name] = queue.declaration_result.message_count or 0
    return queued, delayed


async def _consumer_gauges(
    sources: Sources, client: httpx.AsyncClient
) -> tuple[dict[str, float], dict[str, float], dict[str, str]]:
    """Per consumer: events in its hands, deliveries so far, or why they cannot be read."""

    async def scrape(consumer: str) -> tuple[str, float, float, str | None]:
        url = sources.metrics.get(consumer)
        if url is None:
            return consumer, 0, 0, "no URL of its /metrics is known"
        samples = await scrape_async(url, http=client, timeout=_SCRAPE_TIMEOUT_S)
        if not samples.ok:
            return consumer, 0, 0, samples.error
        if not samples.has(IN_FLIGHT):
            return consumer, 0, 0, f"/metrics has no {IN_FLIGHT} gauge"
        return consumer, samples.value(IN_FLIGHT), samples.value(f"{DELIVERIES}_total"), None

    in_flight: dict[str, float] = {}
    deliveries: dict[str, float] = {}
    unreadable: dict[str, str] = {}
    for consumer, held, delivered, why in await asyncio.gather(
        *(scrape(c) for c in sources.consumers)
    ):
        if why is None:
            in_flight[consumer], deliveries[consumer] = held, delivered
        else:
            unreadable[consumer] = why
    return in_flight, deliveries, unreadable


class Management:
    """RabbitMQ's management API, when reachable: unacknowledged messages per queue.

    The plugin is often not enabled; the first failed request turns the cross-check off for
    the rest of the wait (the consumers' gauges still account for every unacked message)."""

    def __init__(self, sources: Sources, client: httpx.AsyncClient) -> None:
        self.client = client
        self.queues = [sources.queue(c) for c in sources.consumers]
        self.base, self.auth, self.vhost = _management_endpoint(sources)
        self.available = True

    async def unacknowledged(self) -> dict[str, int] | None:
        if not self.available:
            return None
        counts = {}
        try:
            for queue in self.queues:
                resp = await self.client.get(
                    f"{self.base}/api/queues/{quote(self.vhost, safe='')}/{quote(queue, safe='')}",
                    auth=self.auth,
                    timeout=_SCRAPE_TIMEOUT_S,
                )
                if resp.status_code == 404:
                    counts[queue] = 0  # never declared
                    continue
                resp.raise_for_status()
                counts[queue] = int(resp.json().get("messages_unacknowledged") or 0)
        except (httpx.HTTPError, ValueError):
            self.available = False
            return None
        return counts


def _management_endpoint(sources: Sources) -> tuple[str, tuple[str, str], str]:
    amqp = urlsplit(sources.amqp_url)
    vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
    url = urlsplit(sources.management_url or f"http://{amqp.hostname}:{MANAGEMENT_PORT}")
    user = url.username or amqp.username or "guest"
    password = url.password or amqp.password or "guest"
    host = f"{url.hostname}:{url.port or MANAGEMENT_PORT}"
    return f"{url.scheme}://{host}", (unquote(user), unquote(password)), vhost


async def _none() -> None:
    return None


async def activity(sources: Sources, management: Management | None = None) -> Activity:
    """One look at everything that may still be moving."""
    async with httpx.AsyncClient() as client:
        return await _activity(sources, client, management)


async def _activity(
    sources: Sources, client: httpx.AsyncClient, management: Management | None
) -> Activity:
    # Read side by side: an event that moves while they are read can be missed by this look,
    # but not by the next one as well without a delivery or a send in between, which
    # `same_progress` catches (see `wait_quiet`).
    gauges, ready, database, unacked = await asyncio.gather(
        _consumer_gauges(sources, client),
        _ready_counts(sources),
        _database_activity(sources),
        management.unacknowledged() if management is not None else _none(),
    )
    in_flight, deliveries, unreadable = gauges
    queued, delayed = ready
    pending, backlog, sent = database
    return Activity(
        pending_bookings=pending,
        backlog=backlog,
        queued=queued,
        delayed=delayed,
        in_flight=in_flight,
        unreadable=unreadable,
        unacknowledged=unacked,
        deliveries=deliveries,
        notifications=sent,
    )


async def wait_quiet(
    sources: Sources, deadline_s: float = QUIET_TIMEOUT_S
) -> tuple[bool, Activity]:
    """Poll until two looks in a row find nothing moving and no progress in between.

    One look reads each place at a slightly different moment, so an event moving from one
    place to the next (a queue to a consumer, a consumer to a delay queue, a delay queue back
    to its work queue) can slip past it. It cannot slip past the next look too without being
    delivered again, which moves the consumer's delivery counter, or being handled, which
    moves the count of messages sent: both must hold still between the two looks.

    Returns (True, last look) once quiet, or (False, last look) at the deadline: the last look
    then names what is still moving.
    """
    looks: list[Activity] = []  # the last two
    async with httpx.AsyncClient() as client:
        management = Management(sources, client)

        async def settled() -> bool:
            looks.append(await _activity(sources, client, management))
            del looks[:-2]
            if len(looks) < 2:
                return False
            before, now = looks
            return before.idle and now.idle and before.same_progress(now)

        quiet = await polling.until_async(settled, within=deadline_s, interval=_POLL_S)
    return quiet, looks[-1]
