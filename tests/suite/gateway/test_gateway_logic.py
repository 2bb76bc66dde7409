import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from system_under_test.common.booking_request import BookingIn
from system_under_test.gateway import tokens
from system_under_test.gateway.cache import LastGoodCache
from system_under_test.gateway.ratelimit import RateLimiter

pytestmark = pytest.mark.unit
SECRET = "a-signing-key-of-at-least-32-bytes"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_asks_to_wait():
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire("a")
    assert wait == pytest.approx(0.5)
    assert limiter.acquire("b") == 0.0, "clients have separate buckets"
    clock.now += 0.5
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0


def test_rate_limiter_refills_only_up_to_burst():
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now += 60
    assert [limiter.acquire("a") for _ in range(3)][-1] > 0


def test_cache_is_fresh_then_only_last_good():
    clock = Clock()
    cache = LastGoodCache(ttl_s=2, clock=clock)
    assert cache.fresh() is None and cache.last_good() is None
    at = datetime.now(UTC)
    cache.store([{"id": 1}], at)
    assert cache.fresh().items == [{"id": 1}]
    clock.now += 2
    assert cache.fresh() is None
    assert cache.last_good().fetched_at == at


def test_cache_invalidation_keeps_the_fallback():
    cache = LastGoodCache(ttl_s=60, clock=Clock())
    cache.store([1], datetime.now(UTC))
    cache.invalidate()
    assert cache.fresh() is None
    assert cache.last_good().items == [1]


def test_token_round_trip_and_rejections():
    token = tokens.issue("demo", SECRET, ttl_s=60)
    assert tokens.subject_of(token, SECRET) == "demo"
    with pytest.raises(tokens.InvalidToken):
        tokens.subject_of(token, "another-key-of-thirty-two-bytes-x")
    with pytest.raises(tokens.InvalidToken, match="expired"):
        old = tokens.issue("demo", SECRET, ttl_s=60, now=datetime.now(UTC) - timedelta(hours=1))
        tokens.subject_of(old, SECRET)
    with pytest.raises(tokens.InvalidToken):
        tokens.subject_of("not-a-jwt", SECRET)


def test_only_demo_credentials_pass():
    assert tokens.check_credentials("demo", "demo")
    assert not tokens.check_credentials("demo", "wrong")
    assert not tokens.check_credentials("admin", "demo")


def booking(**overrides):
    body = {
        "user_id": str(uuid.uuid4()),
        "facility_id": str(uuid.uuid4()),
        "starts_at": "2030-05-01T10:00:00+00:00",
        "ends_at": "2030-05-01T12:00:00+02:00",
        "amount_cents": 25000,
        "payment_method": "pm_card_visa",
    }
    return {**body, **overrides}


def test_booking_body_accepts_aware_times_in_any_offset():
    parsed = BookingIn.model_validate(booking(ends_at="2030-05-01T14:00:00+02:00"))
    assert parsed.ends_at - parsed.starts_at == timedelta(hours=2)


@pytest.mark.parametrize(
    "overrides",
    [
        {"user_id": "42"},
        {"facility_id": "not-a-uuid"},
        {"amount_cents": 0},
        {"amount_cents": -100},
        {"starts_at": "2030-05-01T10:00:00"},  # naive
        {"starts_at": "yesterday"},
        {"ends_at": "2030-05-01T10:00:00+00:00"},  # equal to start
        {"ends_at": "2030-05-01T09:00:00+00:00"},  # before start
        {"payment_method": ""},
    ],
)
def test_booking_body_refuses_bad_input(overrides):
    with pytest.raises(ValidationError):
        BookingIn.model_validate(booking(**overrides))
