"""The sweep of dead runs' leftovers, against the real shared servers. Every sweep here is
limited to runs this test made (`only=`): other people's runs live on the same servers."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import psycopg
import pytest

from harness import infra, processes, sweep, urls
from harness.state import StackState, write_state
from harness.topology import load_topology
from system_under_test.common.messaging import queue_names

pytestmark = pytest.mark.integration
TOPO = load_topology()
PG, AMQP = TOPO.postgres.url(), TOPO.rabbitmq.url()
# No grace: the test's runs are seconds old, and only they are surveyed.
NOW = {"grace_s": 0.0, "settle_s": 0.2}


@dataclass
class FakeRun:
    """Databases and broker objects named like a run's, with no process behind them."""

    namespace: str
    databases: list[str]
    exchanges: list[str]
    queues: list[str]


async def _declare(run: FakeRun) -> None:
    async with await aio_pika.connect(AMQP) as conn:
        channel = await conn.channel()
        for name in run.exchanges:
            await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
        for name in run.queues:
            await channel.declare_queue(name, durable=True)


async def _existing_queues(names: list[str]) -> list[str]:
    found = []
    async with await aio_pika.connect(AMQP) as conn:
        for name in names:
            channel = await conn.channel()
            try:
                await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue
            found.append(name)
    return found


@pytest.fixture
def dead_run() -> Iterator[FakeRun]:
    namespace = f"fl_{secrets.token_hex(4)}"
    exchanges, queues = infra.broker_objects(namespace, TOPO.services)
    run = FakeRun(
        namespace, [f"{namespace}_users", f"{namespace}_notifications"], exchanges, queues
    )
    with psycopg.connect(urls.libpq_url(PG), autocommit=True) as admin:
        for name in run.databases:
            admin.execute(f'CREATE DATABASE "{name}"')
    asyncio.run(_declare(run))
    yield run
    infra.drop_databases(PG, run.databases)
    infra.delete_broker_objects(AMQP, run.exchanges, run.queues)


async def _ignore(message: aio_pika.abc.AbstractIncomingMessage) -> None:
    return None


def _verdict(run: FakeRun, **options: float) -> sweep.Run:
    (found,) = sweep.survey(TOPO, only=[run.namespace], **{**NOW, **options})
    return found


def test_the_broker_names_a_sweep_derives_are_those_a_consumer_declares() -> None:
    _, queues = infra.broker_objects("fl_x", ["notifications"])
    assert queues == queue_names("fl_x", "notifications")


def test_a_dry_run_lists_a_dead_run_and_removes_nothing(dead_run: FakeRun, tmp_path: Path) -> None:
    report = sweep.sweep(TOPO, dry_run=True, only=[dead_run.namespace], root=tmp_path, **NOW)

    (run,) = report.runs
    assert not run.alive
    assert run.databases == sorted(dead_run.databases)
    assert "dead; would remove 2 databases" in run.describe()
    assert sorted(infra.existing_databases(PG, dead_run.namespace)) == sorted(dead_run.databases)
    assert asyncio.run(_existing_queues(dead_run.queues)) == dead_run.queues


def test_a_dead_runs_databases_and_broker_objects_are_removed(
    dead_run: FakeRun, tmp_path: Path
) -> None:
    report = sweep.sweep(TOPO, only=[dead_run.namespace], root=tmp_path, **NOW)

    (run,) = report.runs
    assert run.left == []
    assert sorted(run.removed) == sorted(dead_run.databases + dead_run.queues + dead_run.exchanges)
    assert infra.existing_databases(PG, dead_run.namespace) == []
    assert asyncio.run(_existing_queues(dead_run.queues)) == []


def test_a_session_on_any_of_its_databases_keeps_a_run_alive(
    dead_run: FakeRun, tmp_path: Path
) -> None:
    with psycopg.connect(urls.libpq_url(PG, dead_run.databases[1])):
        report = sweep.sweep(TOPO, only=[dead_run.namespace], root=tmp_path, **NOW)
    (run,) = report.runs
    assert run.alive_because == ["1 sessions on its databases"]
    assert run.removed == []
    assert sorted(infra.existing_databases(PG, dead_run.namespace)) == sorted(dead_run.databases)


def test_a_consumer_on_its_queue_keeps_a_run_alive(dead_run: FakeRun, tmp_path: Path) -> None:
    async def consume_and_sweep() -> sweep.SweepReport:
        async with await aio_pika.connect(AMQP) as conn:
            queue = await (await conn.channel()).get_queue(f"{dead_run.namespace}.notifications")
            await queue.consume(_ignore)
            return await asyncio.to_thread(
                sweep.sweep, TOPO, only=[dead_run.namespace], root=tmp_path, **NOW
            )

    (run,) = asyncio.run(consume_and_sweep()).runs
    assert run.alive_because == ["1 consumers on its queues"]
    assert asyncio.run(_existing_queues(dead_run.queues)) == dead_run.queues


def test_its_supervisors_lease_keeps_a_run_alive(dead_run: FakeRun) -> None:
    with sweep.open_lease(PG, dead_run.namespace):
        assert _verdict(dead_run).alive_because == ["its supervisor's lease is held"]
    assert not _verdict(dead_run).alive


def test_a_run_younger_than_the_grace_period_is_alive(dead_run: FakeRun) -> None:
    (reason,) = _verdict(dead_run, grace_s=3600).alive_because
    assert reason.startswith("its newest database is") and reason.endswith("s old")


def test_a_run_that_comes_alive_after_the_verdict_keeps_what_it_uses(dead_run: FakeRun) -> None:
    run = _verdict(dead_run)
    assert not run.alive
    # A session opens on one database, a consumer attaches to the work queue, after the verdict.
    in_use_db, in_use_queue = dead_run.databases[0], f"{dead_run.namespace}.notifications"

    async def attach_and_remove() -> None:
        async with await aio_pika.connect(AMQP) as conn:
            queue = await (await conn.channel()).get_queue(in_use_queue)
            await queue.consume(_ignore)
            await asyncio.to_thread(sweep.remove, TOPO, run)

    with psycopg.connect(urls.libpq_url(PG, in_use_db)):
        asyncio.run(attach_and_remove())

    assert infra.existing_databases(PG, dead_run.namespace) == [in_use_db]
    assert asyncio.run(_existing_queues([in_use_queue])) == [in_use_queue]
    assert {left.split(" ")[0] for left in run.left} >= {in_use_db, in_use_queue}


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _state(namespace: str, supervisor_pid: int) -> StackState:
    return StackState(
        run_id=namespace[3:],
        topology=str(TOPO.path),
        namespace=namespace,
        postgres_url=PG,
        rabbitmq_url=AMQP,
        toxiproxy_url="",
        toxiproxy_embedded=False,
        toxiproxy_pid=None,
        gateway_url="",
        services={},
        proxies={},
        databases=[],
        exchanges=[],
        queues=[],
        run_dir="",
        supervisor_pid=supervisor_pid,
    )


def test_only_stacks_owned_by_a_dead_process_are_orphans(tmp_path: Path) -> None:
    dead = _dead_pid()
    owned = tmp_path / "pytest" / str(dead) / "stack-0.json"
    write_state(_state("fl_00000001", dead), owned)
    write_state(_state("fl_00000002", os.getpid()), tmp_path / "pytest" / "1" / "stack-0.json")
    # `faultline up --detach` exits by design: its stack is not an orphan.
    write_state(_state("fl_00000003", dead), tmp_path / "stack.json")

    assert [(o.namespace, o.state_file) for o in sweep.orphans(tmp_path)] == [
        ("fl_00000001", owned)
    ]


OWNER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from harness.stack import Stack

    state = Path(sys.argv[1]) / "pytest" / str(os.getpid()) / "stack-0.json"
    stack = Stack(ports="auto", state_file=state).start()
    print(json.dumps({"namespace": stack.namespace, "state": str(state)}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.e2e
def test_a_live_stack_is_never_swept_and_its_orphaned_remains_are(tmp_path: Path) -> None:
    env = {**os.environ, "FAULTLINE_HOME": str(tmp_path)}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    namespace = None
    try:
        started = json.loads(owner.stdout.readline())  # type: ignore[union-attr]
        namespace = started["namespace"]
        stack_pids = [
            s["pid"] for s in json.loads(Path(started["state"]).read_text())["services"].values()
        ]

        live = sweep.sweep(TOPO, only=[namespace], root=tmp_path, **NOW)

        (run,) = live.runs
        assert run.alive and live.orphans == []
        assert "its supervisor's lease is held" in run.alive_because
        assert any("sessions on its databases" in r for r in run.alive_because)
        assert any("consumers on its queues" in r for r in run.alive_because)
        assert len(infra.existing_databases(PG, namespace)) == 5
        assert all(processes.alive(pid) for pid in stack_pids)

        # Its owner is killed part-way: the services run on, with nobody left to stop them.
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        still = sweep.survey(TOPO, only=[namespace], **NOW)
        assert still[0].alive  # their sessions and consumer keep the run alive...

        reaped = sweep.sweep(TOPO, only=[namespace], root=tmp_path, **NOW)

        assert [o.namespace for o in reaped.orphans] == [namespace]  # ...until it is reaped
        assert reaped.orphans[0].problems == []
        assert processes.wait_gone(stack_pids, 10.0) == []
        assert infra.existing_databases(PG, namespace) == []
        assert sweep.survey(TOPO, only=[namespace], **NOW) == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for orphan in sweep.orphans(tmp_path):  # the test failed half-way: leave nothing
            from harness.stack import Stack

            stack = Stack.attach(orphan.state_file)
            if stack is not None:
                stack.stop()


def _faultline(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FAULTLINE_HOME": str(home)},
        timeout=120,
    )


def test_down_all_dry_run_lists_every_run_and_removes_nothing(
    dead_run: FakeRun, tmp_path: Path
) -> None:
    # Server-wide, so other people's runs are listed too: a dry run only looks.
    done = _faultline("down", "--all", "--dry-run", "--grace", "0", home=tmp_path)

    assert done.returncode == 0, done.stderr
    assert f"{dead_run.namespace}: dead; would remove 2 databases" in done.stdout
    assert "would remove leftovers of" in done.stdout
    assert sorted(infra.existing_databases(PG, dead_run.namespace)) == sorted(dead_run.databases)


def test_dry_run_without_all_is_a_usage_error(tmp_path: Path) -> None:
    done = _faultline("down", "--dry-run", home=tmp_path)

    assert done.returncode == 2
    assert done.stderr.strip() == "faultline: --dry-run goes with --all"
