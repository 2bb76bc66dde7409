"""Leftovers of runs that died part-way: their `fl_<run>_*` databases and `fl_<run>.*` broker
objects on the shared servers, and, in this checkout, stacks whose owning process died.

PostgreSQL and RabbitMQ are shared with other people's runs, started from other checkouts, so
whether a run is alive is decided from the servers themselves, never from a local state file.
A run is alive while any of these holds (each is looked at twice, a moment apart, and the run
must look dead both times):

- its supervisor's lease: a session named `faultline-run:<namespace>` (`Stack.start` opens it
  before creating anything, so a run still starting is covered);
- any session on one of its databases (every service keeps pooled connections);
- a consumer on one of its queues;
- its youngest database is less than `grace_s` old, or its age cannot be read (covers runs of
  other versions, which hold no lease, while they start).

Removal cannot hurt a run that comes alive meanwhile: databases are dropped without FORCE
(refused while anyone is connected) and queues deleted only when unused (refused while a
consumer is attached).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import psycopg
from psycopg import sql

from harness import infra, processes
from harness.aio import run_sync
from harness.errors import UserError
from harness.state import home, read_state
from harness.topology import Topology
from harness.urls import libpq_url

LEASE_PREFIX = "faultline-run:"
GRACE_S = 300.0  # a stack waits up to 60 s for readiness; five minutes is far beyond a start
SETTLE_S = 1.0
# Stack runs only: `fl_<8 hex>_<database>`. Test fixtures' `fl_t_…` databases are left alone
# (they come and go between connections inside other people's sessions).
_RUN_DATABASE = re.compile(r"^(fl_[0-9a-f]{8})_[a-z0-9_]+$")
# State files of stacks owned by one process (a test session, a matrix run, a demo).
_OWNED_STATE = ("pytest/*/stack-*.json", "matrix/stack-*.json", "demo/*.json")


def lease_name(namespace: str) -> str:
    return f"{LEASE_PREFIX}{namespace}"


def open_lease(postgres_url: str, namespace: str) -> psycopg.Connection:
    """A session that lives as long as the run's supervisor: the run's registration."""
    try:
        return psycopg.connect(
            libpq_url(postgres_url),
            autocommit=True,
            application_name=lease_name(namespace),
            connect_timeout=infra.CONNECT_TIMEOUT_S,
        )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot register run {namespace} on PostgreSQL: {reason}") from None


@dataclass
class Run:
    """One run found on the servers, what says it is alive, and what became of it."""

    namespace: str
    databases: list[str]
    exchanges: list[str]
    queues: list[str]
    alive_because: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # could not be removed, and why

    @property
    def alive(self) -> bool:
        return bool(self.alive_because)

    def describe(self) -> str:
        if self.alive:
            return f"{self.namespace}: alive ({'; '.join(self.alive_because)})"
        if self.removed or self.left:
            done = f"{self.namespace}: dead; removed {len(self.removed)} objects"
            return done + (f"; left {'; '.join(self.left)}" if self.left else "")
        return (
            f"{self.namespace}: dead; would remove {len(self.databases)} databases and "
            f"{len(self.exchanges) + len(self.queues)} broker objects"
        )


@dataclass
class Orphan:
    """A stack of this checkout whose owning process is gone while its services may run."""

    state_file: Path
    namespace: str
    owner_pid: int
    problems: list[str] = field(default_factory=list)


@dataclass
class SweepReport:
    runs: list[Run]
    orphans: list[Orphan]
    dry_run: bool

    @property
    def dead(self) -> list[Run]:
        return [r for r in self.runs if not r.alive]

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        alive = len(self.runs) - len(self.dead)
        return (
            f"{verb} leftovers of {len(self.dead)} dead runs and {len(self.orphans)} orphaned "
            f"stacks; left {alive} live runs alone"
        )


# -- what the servers say ----------------------------------------------------------------------


def _postgres_evidence(
    url: str, grace_s: float
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per run namespace: its databases, and what on the PostgreSQL server says it is alive."""
    with psycopg.connect(
        libpq_url(url), autocommit=True, connect_timeout=infra.CONNECT_TIMEOUT_S
    ) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
        sessions = conn.execute(
            "SELECT datname, application_name FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
        ).fetchall()
        ages: dict[str, float | None] = {}
        for name in names:
            if _RUN_DATABASE.match(name):
                ages[name] = _age_s(conn, name)
    databases: dict[str, list[str]] = defaultdict(list)
    for name in names:
        if m := _RUN_DATABASE.match(name):
            databases[m.group(1)].append(name)
    alive: dict[str, list[str]] = defaultdict(list)
    per_db: dict[str, int] = defaultdict(int)
    for datname, application in sessions:
        if application and application.startswith(LEASE_PREFIX):
            alive[application[len(LEASE_PREFIX) :]].append("its supervisor's lease is held")
        if datname:
            per_db[datname] += 1
    for namespace, dbs in databases.items():
        connected = sum(per_db[d] for d in dbs)
        if connected:
            alive[namespace].append(f"{connected} sessions on its databases")
        known = [a for a in (ages[d] for d in dbs) if a is not None]
        if len(known) < len(dbs):
            alive[namespace].append("the age of its databases cannot be read")
        elif min(known) < grace_s:
            alive[namespace].append(f"its newest database is {min(known):.0f}s old")
    return dict(databases), dict(alive)


def _age_s(conn: psycopg.Connection, database: str) -> float | None:
    """Seconds since the database was created: its PG_VERSION file is written then, never after.

    Needs superuser or pg_read_server_files; None when the server does not allow it."""
    try:
        row = conn.execute(
            "SELECT extract(epoch FROM now() - (pg_stat_file("
            "'base/' || oid || '/PG_VERSION')).modification) FROM pg_database WHERE datname = %s",
            (database,),
        ).fetchone()
    except psycopg.Error:
        return None
    return float(row[0]) if row and row[0] is not None else None


async def _consumers(url: str, queues: Mapping[str, list[str]]) -> dict[str, int]:
    """Consumers attached to each run's queues (a passive declare reports them)."""
    found: dict[str, int] = {}
    conn = await asyncio.wait_for(aio_pika.connect(url), infra.CONNECT_TIMEOUT_S)
    async with conn:
        channel = await conn.channel()
        for namespace, names in queues.items():
            for name in names:
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    channel = await conn.channel()  # absent: a failed passive declare closes it
                    continue
                count = queue.declaration_result.consumer_count or 0
                if count:
                    found[namespace] = found.get(namespace, 0) + count
    return found


def _observe(topology: Topology, only: set[str] | None, grace_s: float) -> dict[str, Run]:
    databases, alive = _postgres_evidence(topology.postgres.url(), grace_s)
    runs: dict[str, Run] = {}
    for namespace, dbs in sorted(databases.items()):
        if only is not None and namespace not in only:
            continue
        exchanges, queues = infra.broker_objects(namespace, topology.services)
        reasons = list(alive.get(namespace, []))
        runs[namespace] = Run(namespace, sorted(dbs), exchanges, queues, reasons)
    work = {
        ns: [q for q in run.queues if not q.endswith(".dlq") and ".retry." not in q]
        for ns, run in runs.items()
    }
    for namespace, count in run_sync(_consumers(topology.rabbitmq.url(), work)).items():
        runs[namespace].alive_because.append(f"{count} consumers on its queues")
    return runs


def survey(
    topology: Topology,
    *,
    grace_s: float = GRACE_S,
    settle_s: float = SETTLE_S,
    only: Iterable[str] | None = None,
) -> list[Run]:
    """Every run with databases on the server, each judged alive or dead (nothing removed).

    `only` limits the survey to these namespaces (`fl_<run>`)."""
    wanted = set(only) if only is not None else None
    first = _observe(topology, wanted, grace_s)
    if all(r.alive for r in first.values()):
        return list(first.values())
    time.sleep(settle_s)
    second = _observe(topology, wanted, grace_s)
    for namespace, run in second.items():
        if namespace in first and first[namespace].alive and not run.alive:
            run.alive_because = ["alive a moment ago: " + "; ".join(first[namespace].alive_because)]
    return list(second.values())


# -- removal -----------------------------------------------------------------------------------


def _drop(url: str, run: Run) -> None:
    with psycopg.connect(
        libpq_url(url), autocommit=True, connect_timeout=infra.CONNECT_TIMEOUT_S
    ) as conn:
        for name in run.databases:
            try:
                # No FORCE: refused while anyone is connected, so a run that came alive since
                # it was judged dead keeps its databases.
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.Error as exc:
                run.left.append(f"{name} ({str(exc).strip().splitlines()[0]})")
            else:
                run.removed.append(name)


async def _delete_broker_objects(url: str, run: Run) -> None:
    conn = await asyncio.wait_for(aio_pika.connect(url), infra.CONNECT_TIMEOUT_S)
    async with conn:
        # Queues first (their bindings go with them); only when unused, so a consumer that
        # attached since keeps its queue. A failed delete closes the channel: one each.
        for name in run.queues:
            channel = await conn.channel()
            try:
                await channel.queue_delete(name, if_unused=True)
            except aio_pika.exceptions.AMQPError as exc:
                run.left.append(f"{name} ({type(exc).__name__})")
            else:
                run.removed.append(name)
        for name in run.exchanges:
            channel = await conn.channel()
            try:
                await channel.exchange_delete(name, if_unused=True)
            except aio_pika.exceptions.AMQPError as exc:
                run.left.append(f"{name} ({type(exc).__name__})")
            else:
                run.removed.append(name)


def remove(topology: Topology, run: Run) -> None:
    """Drop a dead run's databases and delete its broker objects (what is refused is left)."""
    if run.alive:
        raise ValueError(f"{run.namespace} is alive")
    _drop(topology.postgres.url(), run)
    run_sync(_delete_broker_objects(topology.rabbitmq.url(), run))


# -- stacks of this checkout whose owner died ----------------------------------------------------


def orphans(root: Path | None = None) -> list[Orphan]:
    """Stacks recorded by a test session, matrix run or demo of this checkout whose process is
    gone: their services run on with nobody to stop them (and keep their run alive)."""
    base = root or home()
    found = []
    for pattern in _OWNED_STATE:
        for path in sorted(base.glob(pattern)):
            with contextlib.suppress(UserError):
                state = read_state(path)
                if state is not None and not processes.alive(state.supervisor_pid):
                    found.append(Orphan(path, state.namespace, state.supervisor_pid))
    return found


def _stop_orphan(orphan: Orphan) -> None:
    from harness.stack import Stack

    stack = Stack.attach(orphan.state_file)
    if stack is not None:
        orphan.problems = stack.stop()
    orphan.state_file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        orphan.state_file.parent.rmdir()  # a session's own directory, once empty


def sweep(
    topology: Topology,
    *,
    dry_run: bool = False,
    grace_s: float = GRACE_S,
    settle_s: float = SETTLE_S,
    only: Iterable[str] | None = None,
    root: Path | None = None,
) -> SweepReport:
    """Stop this checkout's orphaned stacks, then remove every dead run's leftovers.

    `only` limits the server-wide part to these namespaces; `root` is the state directory
    (default `$FAULTLINE_HOME` or `./.faultline`)."""
    found = orphans(root)
    if not dry_run:
        for orphan in found:
            _stop_orphan(orphan)
    runs = survey(topology, grace_s=grace_s, settle_s=settle_s, only=only)
    if not dry_run:
        for run in runs:
            if not run.alive:
                remove(topology, run)
    return SweepReport(runs, found, dry_run)
