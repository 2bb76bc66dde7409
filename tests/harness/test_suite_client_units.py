"""The suite client's pure parts: slots, where each call goes, what it sends, how answers are
read and refusals raised, and Prometheus samples."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from harness.service_metrics import Samples
from harness.suite_client import (
    AddressingError,
    Answer,
    Booking,
    Direct,
    FacilityList,
    Public,
    Slot,
    SlotAllocator,
    SlotsExhausted,
    SuiteClient,
    SuiteError,
    answer_from,
    build_request,
    wait_until,
    wait_until_async,
)
from harness.suite_client import operations as ops
from harness.suite_client.calls import result_of
from harness.suite_client.slots import REGION_DAYS, REGIONS, SLOTS_PER_REGION

pytestmark = pytest.mark.unit

GATEWAY = Public("http://gw:1")
SERVICES = Direct(
    {
        "users": "http://users:2",
        "facilities": "http://facilities:3",
        "payments": "http://payments:4",
        "bookings": "http://bookings:5/",
        "notifications": "http://notifications:6",
    }
)
BOOKING = {
    "id": "6f1c3c52-5a55-4c6b-8a53-0c1f5f6b7a10",
    "status": "confirmed",
    "reason": None,
    "settled": True,
    "user_id": "u",
    "facility_id": "f",
    "starts_at": "2100-01-01T10:00:00+00:00",
    "ends_at": "2100-01-01T10:30:00+00:00",
    "amount_cents": 25000,
    "payment_method": "pm_card_visa",
    "created_at": "2026-11-01T10:00:00+00:00",
    "updated_at": "2026-11-01T10:00:01+00:00",
}


@pytest.fixture
def client():
    with SuiteClient(GATEWAY, slots=SlotAllocator(7)) as it:
        yield it


def _response(status: int, body=None, *, text: str | None = None, headers=None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    if body is None:
        return httpx.Response(status, headers=headers)
    kind = "application/problem+json" if status >= 400 else "application/json"
    return httpx.Response(status, json=body, headers={"content-type": kind, **(headers or {})})


# -- slots -----------------------------------------------------------------------------------


def test_partitions_of_one_seed_never_hand_out_the_same_or_an_overlapping_slot():
    partitions = [SlotAllocator(42, partition=p, partitions=5) for p in range(5)]
    taken = [s for allocator in partitions for s in allocator.take_many(500)]
    assert len(set(taken)) == len(taken) == 2500
    ordered = sorted(taken)
    assert all(not a.overlaps(b) for a, b in itertools.pairwise(ordered))
    # Together they hand out exactly what one allocator of that seed would.
    assert ordered == SlotAllocator(42).take_many(2500)


def test_each_partition_can_use_up_its_share_and_no_more():
    last = SlotAllocator(3, partition=2, partitions=3)
    assert last.capacity == SLOTS_PER_REGION // 3
    slots = last.take_many(last.capacity)
    assert len(set(slots)) == last.capacity
    with pytest.raises(SlotsExhausted, match="partition 2/3"):
        last.take()


def test_different_seeds_use_disjoint_regions_far_in_the_future():
    first, second = SlotAllocator(1), SlotAllocator(2)
    a, b = first.take_many(100), second.take_many(100)
    assert max(a).ends_at <= min(b).starts_at
    assert first.first >= datetime(2100, 1, 1, tzinfo=UTC)
    last_region = SlotAllocator(REGIONS - 1)
    end = last_region.first + timedelta(days=REGION_DAYS)
    assert end.year < 8999  # the suite accepts years up to 8999
    assert SlotAllocator(REGIONS + 1).first == first.first  # seeds wrap around the regions


def test_allocators_on_one_seed_repeat_and_unseeded_ones_draw_a_region():
    assert SlotAllocator(9).take_many(3) == SlotAllocator(9).take_many(3)
    assert 0 <= SlotAllocator().region < REGIONS


def test_threads_sharing_an_allocator_never_get_the_same_slot():
    allocator = SlotAllocator(11)
    got: list[Slot] = []
    lock = threading.Lock()

    def take() -> None:
        mine = allocator.take_many(200)
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == len(got) == 1600


def test_bad_partitions_and_lengths_are_refused():
    with pytest.raises(ValueError):
        SlotAllocator(1, partition=3, partitions=3)
    with pytest.raises(ValueError):
        SlotAllocator(1, partitions=0)
    with pytest.raises(ValueError):
        SlotAllocator(1, length=timedelta(hours=2))


def test_a_slot_says_its_day_and_reads_well():
    slot = Slot.at(datetime(2100, 3, 4, 23, 30, tzinfo=UTC))
    assert slot.day.isoformat() == "2100-03-04"
    assert str(slot) == "2100-03-04 23:30-00:00 UTC"


# -- where calls go and what they send --------------------------------------------------------


def test_a_booking_goes_to_the_gateway_with_the_token_and_a_fresh_key(client):
    client.token = "t0k"
    slot = Slot.at(datetime(2100, 1, 1, 10, tzinfo=UTC))
    request = build_request(ops.book(client, "u1", "f1", slot), GATEWAY, client.token)
    assert (request.method, request.url) == ("POST", "http://gw:1/api/bookings")
    assert request.payload.headers["Authorization"] == "Bearer t0k"
    assert request.payload.json == {
        "user_id": "u1",
        "facility_id": "f1",
        "starts_at": "2100-01-01T10:00:00+00:00",
        "ends_at": "2100-01-01T10:30:00+00:00",
        "amount_cents": 25000,
        "payment_method": "pm_card_visa",
    }
    again = build_request(ops.book(client, "u1", "f1", slot), GATEWAY, client.token)
    assert request.payload.headers["Idempotency-Key"] != again.payload.headers["Idempotency-Key"]
    keyed = ops.book(client, "u1", "f1", slot, key="k1", correlation_id="c1", timeout=3.0)
    assert keyed.payload.headers == {"Idempotency-Key": "k1", "X-Correlation-ID": "c1"}
    assert build_request(keyed, SERVICES, None).httpx_arguments()["timeout"] == 3.0


def test_a_booking_without_a_slot_takes_the_clients_next_one(client):
    expected = SlotAllocator(7).take_many(2)
    bodies = [ops.book(client, "u", "f").payload.json for _ in range(2)]
    assert [b["starts_at"] for b in bodies] == [s.starts_at.isoformat() for s in expected]


def test_direct_calls_go_to_the_owning_service_on_its_internal_route(client):
    cases = [
        (ops.create_user(client, "a@example.com"), "http://users:2/users"),
        (
            ops.availability(client, "f1", "2100-01-01"),
            "http://facilities:3/facilities/f1/availability",
        ),
        (ops.book(client, "u", "f"), "http://bookings:5/bookings"),
        (ops.cancel(client, "b1"), "http://bookings:5/bookings/b1/cancel"),
        (ops.bookings(client, "pending", 10), "http://bookings:5/bookings"),
        (ops.notifications(client, booking_id="b1"), "http://notifications:6/notifications"),
        (ops.charge(client, "b1"), "http://payments:4/charges/b1"),
        (ops.metrics(client, "bookings"), "http://bookings:5/metrics"),
    ]
    for call, url in cases:
        assert build_request(call, SERVICES, None).url == url
    assert build_request(ops.bookings(client, "pending", 10), SERVICES, None).payload.params == {
        "status": "pending",
        "limit": 10,
    }
    # Unset filters are left out rather than sent empty.
    assert build_request(
        ops.notifications(client, user_id="u1"), SERVICES, None
    ).payload.params == {"user_id": "u1"}


def test_public_calls_go_under_api_and_login_goes_without_a_token(client):
    assert build_request(ops.cancel(client, "b1"), GATEWAY, "t").url == (
        "http://gw:1/api/bookings/b1/cancel"
    )
    assert build_request(ops.notifications(client, "b1"), GATEWAY, "t").url == (
        "http://gw:1/api/notifications"
    )
    login = build_request(ops.login(client), GATEWAY, "old")
    assert login.url == "http://gw:1/api/auth/token"
    assert login.payload.data == {"username": "demo", "password": "demo"}
    assert "Authorization" not in login.payload.headers
    raw = build_request(ops.send(client, "GET", "/ready"), GATEWAY, "t")
    assert (raw.url, raw.payload.headers["Authorization"]) == ("http://gw:1/ready", "Bearer t")


def test_routes_one_side_does_not_have_are_refused_before_sending(client):
    with pytest.raises(AddressingError, match="only by the gateway"):
        build_request(ops.booking_details(client, "b1"), SERVICES, None)
    with pytest.raises(AddressingError, match="no public route"):
        build_request(ops.bookings(client), GATEWAY, "t")
    with pytest.raises(AddressingError, match="only the gateway"):
        build_request(ops.metrics(client, "bookings"), GATEWAY, "t")
    with pytest.raises(AddressingError, match="no URL for gateway"):
        build_request(ops.metrics(client, "gateway"), SERVICES, None)
    with pytest.raises(AddressingError):
        client.bookings()  # refused before anything is sent


# -- reading answers ---------------------------------------------------------------------------


def test_an_expected_answer_is_parsed_into_its_model(client):
    call = ops.book(client, "u", "f")
    answer = answer_from(call, _response(201, BOOKING), 0.25)
    assert answer.ok and answer.status == 201 and answer.seconds == 0.25
    booking = result_of(call, answer, GATEWAY)
    assert isinstance(booking, Booking)
    assert (booking.status, booking.settled, booking.terminal) == ("confirmed", True, True)
    assert booking.starts_at == datetime(2100, 1, 1, 10, tzinfo=UTC)
    assert answer.booking_id == BOOKING["id"]


def test_a_booking_body_without_settled_is_settled_once_terminal():
    pending = Booking.model_validate({"id": "b", "status": "pending", "future_field": 1})
    done = Booking.model_validate({"id": "b", "status": "rejected", "reason": "slot_unavailable"})
    assert (pending.settled, pending.terminal) == (False, False)
    assert (done.settled, done.reason) == (True, "slot_unavailable")


def test_lists_are_read_bare_or_wrapped(client):
    facility = {"id": "f1", "name": "Hall", "capacity": 3}
    bare = answer_from(ops.facilities(client), _response(200, [facility]), 0.1).value
    wrapped = {"items": [facility], "stale": True, "fetched_at": "2026-11-01T00:00:00Z"}
    gateway = answer_from(ops.facilities(client), _response(200, wrapped), 0.1).value
    assert isinstance(bare, FacilityList) and isinstance(gateway, FacilityList)
    assert (bare.ids, bare.stale, gateway.ids, gateway.stale) == ({"f1"}, False, {"f1"}, True)
    notification = {
        "id": "n1",
        "event_id": "e1",
        "event_type": "booking.confirmed",
        "user_id": "u1",
        "booking_id": "b1",
        "channel": "email",
        "recipient": "a@example.com",
        "subject": "s",
        "body": "b",
        "sent_at": "2026-11-01T00:00:00Z",
    }
    for body in ([notification], {"items": [notification]}):
        sent = answer_from(ops.notifications(client, "b1"), _response(200, body), 0.1).value
        assert [n.event_type for n in sent] == ["booking.confirmed"]


def test_a_refusal_raises_with_its_status_and_problem_body(client):
    problem = {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "slot taken"}
    call = ops.cancel(client, "b1")
    answer = answer_from(call, _response(409, problem, headers={"Retry-After": "2"}), 0.1)
    assert not answer.ok and answer.value is None and answer.problem == problem
    with pytest.raises(SuiteError) as raised:
        result_of(call, answer, GATEWAY)
    error = raised.value
    assert (error.status, error.problem, error.retry_after) == (409, problem, 2.0)
    assert str(error) == "POST /api/bookings/b1/cancel answered 409: Conflict: slot taken"


def test_no_answer_is_an_answer_without_status_and_raises_as_such(client):
    call = ops.booking(client, "b1")
    answer = answer_from(call, httpx.ConnectError("refused"), 0.01)
    assert (answer.status, answer.clean, answer.error) == (None, False, "ConnectError: refused")
    assert answer.describe() == "no answer after 10 ms (ConnectError: refused)"
    with pytest.raises(SuiteError, match=r"GET /bookings/b1 \(bookings\): no answer") as raised:
        result_of(call, answer, SERVICES)
    assert raised.value.status is None


def test_an_expected_status_with_an_unreadable_body_is_not_a_success(client):
    call = ops.booking(client, "b1")
    answer = answer_from(call, _response(200, {"id": "b1", "status": "lost"}), 0.1)
    assert not answer.ok and answer.error and answer.error.startswith("unexpected body")
    with pytest.raises(SuiteError, match="answered 200: unexpected body"):
        result_of(call, answer, GATEWAY)
    text = answer_from(call, _response(200, text="<html>"), 0.1)
    assert not text.ok and text.body == "<html>"


def test_clean_answers_are_successes_4xx_and_503_but_not_500():
    assert [Answer(s, None, 0.0).clean for s in (201, 404, 503, 500, None)] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_a_raw_call_answers_whatever_came_and_is_ok_on_2xx(client):
    ready = answer_from(ops.send(client, "GET", "/ready"), _response(200, {"status": "ok"}), 0.1)
    refused = answer_from(ops.send(client, "GET", "/ready"), _response(503, {"x": 1}), 0.1)
    assert (ready.ok, ready.value, refused.ok, refused.body) == (
        True,
        {"status": "ok"},
        False,
        {"x": 1},
    )


# -- Prometheus samples -------------------------------------------------------------------------

METRICS = """# HELP faultline_breaker_state Breaker state
# TYPE faultline_breaker_state gauge
faultline_breaker_state{service="bookings",downstream="payments"} 2.0
faultline_breaker_state{service="bookings",downstream="facilities"} 0.0
# HELP faultline_retries_total Retries
# TYPE faultline_retries_total counter
faultline_retries_total{downstream="payments",outcome="ok"} 3.0
faultline_retries_total{downstream="payments",outcome="failed"} 1.0
faultline_retries_total{downstream="facilities",outcome="ok"} 5.0
"""


def test_samples_are_summed_by_name_and_labels_and_breakers_named():
    samples = Samples.parse(METRICS)
    assert samples.value("faultline_retries_total") == 9
    assert samples.value("faultline_retries_total", downstream="payments") == 4
    assert samples.value("faultline_retries_total", downstream="payments", outcome="ok") == 3
    assert samples.value("nothing_of_that_name") == 0
    assert samples.breaker_states() == {"payments": "open", "facilities": "closed"}
    assert samples.breaker_state("payments") == "open"
    failed = Samples(error="/metrics unreachable (ConnectError)")
    assert (failed.ok, failed.value("faultline_retries_total")) == (False, 0)
    assert failed.breaker_state("payments") == "unknown"


def test_the_metrics_operation_reads_prometheus_text(client):
    call = ops.metrics(client, "gateway")
    answer = answer_from(call, _response(200, text=METRICS), 0.1)
    assert answer.ok and answer.value is not None
    assert answer.value.breaker_state("payments") == "open"


# -- waiting ------------------------------------------------------------------------------------


def test_wait_until_asks_until_the_predicate_holds_and_counts_refusals_as_not_yet(client):
    answers = iter([False, "refused", False, True])

    def predicate() -> bool:
        got = next(answers)
        if got == "refused":
            raise SuiteError("GET /x", Answer(503, None, 0.0))
        return bool(got)

    assert wait_until(predicate, timeout=5.0, interval=0.001)
    assert next(answers, "used up") == "used up"
    assert not wait_until(lambda: False, timeout=0.05, interval=0.01)


async def test_wait_until_async_gives_up_at_its_timeout():
    calls = 0

    async def never() -> bool:
        nonlocal calls
        calls += 1
        return False

    assert not await wait_until_async(never, timeout=0.05, interval=0.01)
    assert calls >= 2

    async def at_once() -> bool:
        return True

    assert await wait_until_async(at_once, timeout=1.0)
