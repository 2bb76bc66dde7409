"""What the suite's users do, one iteration at a time, through the suite client.

Families browse facilities and availability, then book with an Idempotency-Key (and retry with
the same key when no answer came); some cancel, some read a booking's details and their
notifications; staff create facilities. Every request is timed and filed under its route
(`name` tag, e.g. `POST /api/bookings`), and every answer is checked, not only its status: a
failed check is a named failure.

Plain blocking code: under Locust it runs in greenlets (gevent patches sockets and sleep).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.suite_client import Answer, Booking, Slot, SlotAllocator, SuiteClient
from harness.suite_client import operations as ops
from harness.suite_client.calls import Call

from .metrics import Recorder

# (request_type, name, response_time_ms, response_length, exception): Locust's request event.
Fire = Callable[[str, str, float, int, BaseException | None], None]
POLL_S = 0.25
OUTCOME_POLLS = 40  # about 10 s for a saga to reach its outcome
RETRIED = (None, 502, 503, 504)  # no answer, or a gateway that could not get one
CONTENTION_FACILITY = "Contention chapel"
FACILITIES_WANTED = 3
START_ATTEMPTS = 5


class CheckFailed(Exception):
    """A response that came back but was not what the suite promises."""


def _nothing(*_: Any) -> None:
    return None


class Measure:
    """Files each request and check of one simulated user in the recorder, and tells Locust.

    `lag_s` is how late the current iteration started after its intended time (open model);
    it is added to the first request of the iteration, so a busy generator or a full pool of
    users cannot hide the wait (coordinated omission).
    """

    def __init__(self, recorder: Recorder, fire: Fire = _nothing) -> None:
        self.recorder = recorder
        self.fire = fire
        self.lag_s = 0.0

    def request(self, client: SuiteClient, name: str, call: Call[Any]) -> Answer[Any]:
        answer = client.answer(call)
        ms = (answer.seconds + self.lag_s) * 1000.0
        self.lag_s = 0.0
        failed = answer.status is None or answer.status >= 400
        rec = self.recorder
        rec.count("http_reqs", name=name)
        rec.trend("http_req_duration", ms, name=name)
        rec.rate("http_req_failed", failed, name=name)
        method, _, path = name.partition(" ")
        size = int(answer.headers.get("content-length", 0) or 0) if answer.headers else 0
        error = CheckFailed(answer.describe()) if failed else None
        self.fire(method, path, ms, size, error)
        return answer

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.recorder.rate("checks", ok, check=name)
        if not ok:
            self.fire("check", name, 0.0, 0, CheckFailed(detail or name))
        return ok


class ContendedSlots:
    """The same few slots again and again: bookings conflict where a profile wants them."""

    def __init__(self, count: int, seed: int) -> None:
        self.slots = SlotAllocator(seed).take_many(count)
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> Slot:
        with self._lock:
            slot = self.slots[self._next % len(self.slots)]
            self._next += 1
        return slot


class Catalog:
    """The facilities one load-generator process books, found or created once."""

    def __init__(self, contention: bool) -> None:
        self.contention = contention
        self.ids: list[str] = []
        self._lock = threading.Lock()

    def ensure(self, session: Session) -> None:
        with self._lock:
            if self.ids:
                return
            listed = session.call("GET /api/facilities", ops.facilities(session.client))
            items = list(listed.value.items) if listed.ok and listed.value else []
            if self.contention:
                same = sorted(f.id for f in items if f.name == CONTENTION_FACILITY)
                self.ids = same[:1] or self._create(session, 1, CONTENTION_FACILITY)
            else:
                self.ids = [f.id for f in items][:10]
                if len(self.ids) < FACILITIES_WANTED:
                    self.ids += self._create(session, FACILITIES_WANTED - len(self.ids))

    @staticmethod
    def _create(session: Session, count: int, name: str = "Chapel of Rest") -> list[str]:
        made = []
        for _ in range(count):
            answer = session.call(
                "POST /api/facilities", ops.create_facility(session.client, name, 80)
            )
            if session.measure.check("facility created", answer.ok, answer.describe()):
                made.append(answer.value.id)
        return made

    def add(self, facility_id: str) -> None:
        with self._lock:
            self.ids.append(facility_id)

    def pick(self, rng: random.Random) -> str | None:
        with self._lock:
            return rng.choice(self.ids) if self.ids else None


@dataclass
class Session:
    """One simulated user: its client (and token), account, facilities and bookings."""

    client: SuiteClient
    measure: Measure
    catalog: Catalog
    slots: Any  # SlotAllocator or ContendedSlots: anything with take()
    rng: random.Random
    user_id: str | None = None
    booked: list[str] = field(default_factory=list)  # confirmed bookings of this user

    @property
    def contention(self) -> bool:
        return self.catalog.contention

    def call(self, name: str, call: Call[Any]) -> Answer[Any]:
        return self.measure.request(self.client, name, call)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def start(self) -> None:
        """Log in (each user has its own token) and open the family's account; a user that
        was shed (many start at once) tries again after the time it was told, as a real
        client would."""
        token = self._persist("POST /api/auth/token", lambda: ops.login(self.client))
        self.measure.check("token issued", token.ok, token.describe())
        account = self._persist("POST /api/users", lambda: ops.create_user(self.client))
        if self.measure.check("account created", account.ok, account.describe()):
            self.user_id = account.value.id
        self.catalog.ensure(self)

    def _persist(self, name: str, call: Callable[[], Call[Any]]) -> Answer[Any]:
        answer = self.call(name, call())
        for _ in range(START_ATTEMPTS - 1):
            if answer.status not in (*RETRIED, 429):
                break
            self.sleep(answer.retry_after or 0.5)
            answer = self.call(name, call())
        return answer


# -- behaviours: each is one iteration ---------------------------------------------------------


def _place(s: Session, facility_id: str, slot: Slot) -> Booking | None:
    """POST a booking; once more with the same Idempotency-Key when no answer came."""
    key = uuid.uuid4().hex
    call = ops.book(s.client, s.user_id or "", facility_id, slot, key=key)
    answer = s.call("POST /api/bookings", call)
    if answer.status in RETRIED:
        s.sleep(answer.retry_after or 0.2)
        answer = s.call("POST /api/bookings", call)
    booking = answer.value if answer.ok else None
    allowed = {"pending", "confirmed"} | ({"rejected"} if s.contention else set())
    ok = booking is not None and booking.status in allowed
    detail = answer.describe() if booking is None else f"booking {booking.id} {booking.status}"
    s.measure.check("booking accepted", ok, detail)
    return booking


def _outcome(s: Session, booking: Booking) -> Booking | None:
    """Poll the booking until its saga ended; checks it ended as the profile expects."""
    seen: Booking | None = booking
    polls = 0
    while seen is not None and not seen.terminal and polls < OUTCOME_POLLS:
        s.sleep(POLL_S)
        polls += 1
        answer = s.call("GET /api/bookings/{id}", ops.booking(s.client, booking.id))
        seen = answer.value if answer.ok else seen
    expected = {"confirmed", "rejected"} if s.contention else {"confirmed"}
    status = seen.status if seen else "unknown"
    s.measure.check("booking outcome", status in expected, f"booking {booking.id} {status}")
    if seen is not None and seen.status == "confirmed":
        s.booked.append(seen.id)
    return seen


def _facility(s: Session) -> str | None:
    facility_id = s.catalog.pick(s.rng)
    s.measure.check("facility to book", facility_id is not None, "no facility to book")
    return facility_id


def browse_and_book(s: Session) -> None:
    listed = s.call("GET /api/facilities", ops.facilities(s.client))
    s.measure.check("facilities listed", listed.ok and bool(listed.value.items), listed.describe())
    facility_id = _facility(s)
    if facility_id is None:
        return
    slot = s.slots.take()
    seen = s.call(
        "GET /api/facilities/{id}/availability",
        ops.availability(s.client, facility_id, slot.day),
    )
    s.measure.check("availability read", seen.ok, seen.describe())
    booking = _place(s, facility_id, slot)
    if booking is not None:
        _outcome(s, booking)


def book(s: Session) -> None:
    """One booking request and nothing else: the saga's own capacity."""
    facility_id = _facility(s)
    if facility_id is not None:
        _place(s, facility_id, s.slots.take())


def book_and_cancel(s: Session) -> None:
    facility_id = _facility(s)
    if facility_id is None:
        return
    booking = _place(s, facility_id, s.slots.take())
    seen = _outcome(s, booking) if booking is not None else None
    if seen is None or seen.status != "confirmed":
        return
    s.booked.remove(seen.id)
    answer = s.call("POST /api/bookings/{id}/cancel", ops.cancel(s.client, seen.id))
    ok = answer.ok and answer.value.status in ("cancelled", "confirmed")
    s.measure.check("cancel accepted", ok, answer.describe())


def read_details(s: Session) -> None:
    if not s.booked:
        browse_and_book(s)
        return
    booking_id = s.rng.choice(s.booked)
    details = s.call("GET /api/bookings/{id}/details", ops.booking_details(s.client, booking_id))
    same = details.ok and details.value.booking.id == booking_id
    s.measure.check("details match", same, details.describe())
    sent = s.call("GET /api/notifications", ops.notifications(s.client, booking_id=booking_id))
    mine = sent.ok and all(n.booking_id == booking_id for n in sent.value)
    s.measure.check("notifications read", mine, sent.describe())


def create_facility(s: Session) -> None:
    name = f"Hall {s.rng.randrange(10**6)}"
    answer = s.call("POST /api/facilities", ops.create_facility(s.client, name, 40))
    if s.measure.check("facility created", answer.ok, answer.describe()):
        s.catalog.add(answer.value.id)


BEHAVIOURS: Mapping[str, Callable[[Session], None]] = {
    "browse_and_book": browse_and_book,
    "book": book,
    "book_and_cancel": book_and_cancel,
    "read_details": read_details,
    "create_facility": create_facility,
}


def iterate(s: Session, mix: Mapping[str, int], due: float | None = None) -> str:
    """One iteration of a behaviour drawn by `mix`'s weights; `due` is its intended start on
    the recorder's clock (open model), now when None. Returns the behaviour's name."""
    rec = s.measure.recorder
    now = rec.clock()
    due = now if due is None else due
    s.measure.lag_s = max(0.0, now - due)
    names = list(mix)
    name = s.rng.choices(names, weights=[mix[n] for n in names])[0]
    try:
        BEHAVIOURS[name](s)
    except Exception as exc:  # an iteration must never kill its user
        s.measure.check("iteration completed", False, f"{name}: {type(exc).__name__}: {exc}")
    finally:
        s.measure.lag_s = 0.0
    rec.count("iterations", at=due, scenario=name)
    rec.trend("iteration_duration", (rec.clock() - due) * 1000.0, at=due, scenario=name)
    return name
