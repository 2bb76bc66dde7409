"""The quiet rules on fabricated looks and rows: what counts as moving, and what an audit that
never saw quiet may and may not say."""

from __future__ import annotations

import pytest

from harness.audit import Activity, BookingRow, audit

pytestmark = pytest.mark.unit

QUIET = Activity(in_flight={"notifications": 0}, deliveries={"notifications": 7})


def test_nothing_moving_is_idle() -> None:
    assert QUIET.idle
    assert QUIET.describe() == "quiet"


@pytest.mark.parametrize(
    ("look", "subject", "words"),
    [
        (Activity(pending_bookings=2), "bookings", "2 bookings unfinished"),
        (Activity(backlog={"bookings": 1}), "bookings", "1 events unpublished in its outbox"),
        (Activity(queued={"ns.notifications": 3}), "ns.notifications", "3 events ready"),
        (
            Activity(delayed={"ns.notifications.retry.4": 1}),
            "ns.notifications.retry.4",
            "1 events waiting out a backoff",
        ),
        (Activity(in_flight={"notifications": 1}), "notifications", "1 events being handled now"),
        (
            Activity(unreadable={"notifications": "/metrics unreachable (ConnectError)"}),
            "notifications",
            "cannot tell what it is handling: /metrics unreachable (ConnectError)",
        ),
        (
            Activity(in_flight={"notifications": 1}, unacknowledged={"ns.notifications": 2}),
            "broker",
            "1 unacknowledged messages not counted by a consumer",
        ),
    ],
)
def test_each_moving_part_is_named(look: Activity, subject: str, words: str) -> None:
    assert not look.idle
    assert any(s == subject and words in what for s, what in look.moving()), look.moving()


def test_unacknowledged_messages_the_consumers_hold_are_accounted_for() -> None:
    look = Activity(in_flight={"notifications": 0}, unacknowledged={"ns.notifications": 0})
    assert look.idle


def test_progress_between_two_looks_is_a_delivery_or_a_send() -> None:
    later = Activity(in_flight={"notifications": 0}, deliveries={"notifications": 8})
    assert not QUIET.same_progress(later)
    assert not QUIET.same_progress(Activity(deliveries=QUIET.deliveries, notifications=1))
    assert QUIET.same_progress(Activity(deliveries={"notifications": 7}))


def test_an_audit_that_never_saw_quiet_names_what_moves_and_calls_nothing_lost() -> None:
    from harness.audit import Snapshot

    s = Snapshot()
    s.bookings = [BookingRow("b-on-its-way", "confirmed", facility_id="f1", settled=True)]
    moving = [("ns.notifications.retry.2", "1 events waiting out a backoff")]

    early = audit(s, quiet=False, moving=moving)
    final = audit(s)

    assert not early.passed and not early.quiet
    assert early.summary().startswith("audit NOT QUIET")
    assert [(f.check, f.kind, f.subject) for f in early.check("quiet").findings] == [
        ("quiet", "stuck", "ns.notifications.retry.2")
    ]
    assert early.check("notifications").ids("lost") == []
    # The same rows once quiet: now the missing notification is a loss.
    assert final.check("notifications").ids("lost") == ["b-on-its-way"]
    assert "quiet" not in {c.name for c in final.checks}


@pytest.mark.parametrize(
    ("amqp", "management", "expected"),
    [
        (
            "amqp://guest:guest@127.0.0.1:5672/",
            None,
            ("http://127.0.0.1:15672", ("guest", "guest"), "/"),
        ),
        (
            "amqp://ann:s%40cret@rabbit:5673/prod",
            None,
            ("http://rabbit:15672", ("ann", "s@cret"), "prod"),
        ),
        (
            "amqp://ann:pw@rabbit/",
            "https://ops:key@mq.example.org:443",
            ("https://mq.example.org:443", ("ops", "key"), "/"),
        ),
    ],
)
def test_the_management_api_is_found_from_the_broker_url(
    amqp: str, management: str | None, expected: tuple[str, tuple[str, str], str]
) -> None:
    from harness.audit.quiet import _management_endpoint
    from harness.audit.readers import Sources

    assert _management_endpoint(Sources({}, amqp, "ns", management_url=management)) == expected
