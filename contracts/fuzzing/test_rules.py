import pytest

from contracts.fuzzing import rules

pytestmark = [pytest.mark.fuzz, pytest.mark.unit]


def test_a_slot_that_ends_before_it_starts_is_put_in_order():
    body = {"starts_at": "2030-05-01T12:00:00+00:00", "ends_at": "2030-05-01T10:00:00Z"}
    rules.slot_in_order(body)
    assert body == {
        "starts_at": "2030-05-01T12:00:00+00:00",
        "ends_at": "2030-05-01T14:00:00+00:00",
    }


def test_times_outside_the_storable_range_are_moved_into_it():
    body = {"starts_at": "0543-05-12T14:40:09Z", "ends_at": "9500-01-01T00:00:00Z"}
    rules.slot_in_order(body)
    assert body["starts_at"].startswith("2030-05-01T10:00")
    assert body["ends_at"].startswith("2030-05-01T12:00")


def test_a_valid_slot_is_left_as_it_is():
    body = {"starts_at": "2031-01-01T08:00:00+01:00", "ends_at": "2031-01-01T09:00:00+01:00"}
    rules.slot_in_order(body)
    assert body == {
        "starts_at": "2031-01-01T08:00:00+01:00",
        "ends_at": "2031-01-01T09:00:00+01:00",
    }


def test_days_outside_the_range_are_moved_into_it():
    query = {"date": "0987-07-18"}
    rules.day_in_range(query)
    assert query == {"date": "2030-05-01"}


def test_known_references_replace_random_ids_only_when_known():
    body = {"user_id": "random", "facility_id": "random"}
    rules.known_references(body, environ={"FAULTLINE_FUZZ_USER_ID": "u-1"})
    assert body == {"user_id": "u-1", "facility_id": "random"}


def test_each_request_gets_its_own_idempotency_key():
    first, second = {"Idempotency-Key": "0"}, {"Idempotency-Key": "0"}
    rules.fresh_idempotency_key(first)
    rules.fresh_idempotency_key(second)
    assert first["Idempotency-Key"] != second["Idempotency-Key"]
    untouched = {"Accept": "application/json"}
    rules.fresh_idempotency_key(untouched)
    assert untouched == {"Accept": "application/json"}


def test_rules_reach_valid_values_drawn_from_captured_pools_but_not_mutated_ones():
    # The stateful phase hands valid bodies over wrapped (no mutation recorded); negative
    # values carry their mutation and must stay as broken as they were generated.
    from schemathesis.core.mutations import MutationMetadata
    from schemathesis.generation.value import GeneratedValue

    from contracts.fuzzing.hooks import _valid_only

    def apply(body):
        return _valid_only(lambda b: {**b, "ruled": True})(body)

    assert apply({"a": 1}) == {"a": 1, "ruled": True}
    pooled = apply(GeneratedValue({"a": 1}, None))
    assert pooled.value == {"a": 1, "ruled": True}
    mutated = GeneratedValue({"a": 1}, MutationMetadata(mutations=()))
    assert apply(mutated).value == {"a": 1}
