import uuid

import pytest

from contracts.fuzzing import rules

pytestmark = [pytest.mark.fuzz, pytest.mark.unit]


def test_a_slot_that_ends_before_it_starts_is_put_in_order():
    body = {"starts_at": "2030-05-01T12:00:00+00:00", "ends_at": "2030-05-01T10:00:00Z"}
    rules.slot_in_order(body)
    assert body == {
        "starts_at": "2030-05-01T10:00:00+00:00",
        "ends_at": "2030-05-01T12:00:00+00:00",
    }


def test_an_empty_slot_gets_an_hour_and_stays_in_the_years_the_schema_admits():
    body = {"starts_at": "2030-05-01T10:00:00Z", "ends_at": "2030-05-01T10:00:00Z"}
    rules.slot_in_order(body)
    assert body == {
        "starts_at": "2030-05-01T10:00:00+00:00",
        "ends_at": "2030-05-01T11:00:00+00:00",
    }
    last = {"starts_at": "8999-12-31T23:30:00-05:00", "ends_at": "8999-12-31T23:30:00-05:00"}
    rules.slot_in_order(last)
    assert last == {
        "starts_at": "8999-12-31T22:30:00-05:00",
        "ends_at": "8999-12-31T23:30:00-05:00",
    }


def test_a_valid_slot_is_left_as_it_is():
    body = {"starts_at": "2031-01-01T08:00:00+01:00", "ends_at": "2031-01-01T09:00:00+01:00"}
    rules.slot_in_order(body)
    assert body == {
        "starts_at": "2031-01-01T08:00:00+01:00",
        "ends_at": "2031-01-01T09:00:00+01:00",
    }


def test_emails_and_keys_carry_the_run_once():
    body = {"email": "ann@example.com", "name": "Ann"}
    rules.email_of_this_run(body)
    assert body == {"email": f"{rules.RUN_TAG}.ann@example.com", "name": "Ann"}
    rules.email_of_this_run(body)
    assert body["email"] == f"{rules.RUN_TAG}.ann@example.com"

    headers = {"Idempotency-Key": "0", "Accept": "application/json"}
    rules.key_of_this_run(headers)
    rules.key_of_this_run(headers)
    assert headers == {"Idempotency-Key": f"{rules.RUN_TAG}-0", "Accept": "application/json"}


def test_tagged_values_stay_within_the_lengths_the_schemas_admit():
    body = {"email": "a" * 240 + "@example.com"}
    rules.email_of_this_run(body)
    assert len(body["email"]) == rules.MAX_EMAIL_LENGTH
    assert body["email"].startswith(rules.RUN_TAG) and body["email"].endswith("@example.com")
    headers = {"Idempotency-Key": "k" * 200}
    rules.key_of_this_run(headers)
    assert len(headers["Idempotency-Key"]) == rules.MAX_KEY_LENGTH


def test_repeats_within_a_run_still_collide():
    first, second = {"Idempotency-Key": "same"}, {"Idempotency-Key": "same"}
    rules.key_of_this_run(first)
    rules.key_of_this_run(second)
    assert first == second


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


def test_client_chosen_ids_of_creates_are_ids_of_this_run():
    generated = "e3e70682-c209-1cac-a29f-6fbed82c07cd"
    first = {"booking_id": generated}
    rules.id_of_this_run("PUT", "/reservations/{booking_id}", first)
    assert first["booking_id"] != generated
    again = {"booking_id": generated}
    rules.id_of_this_run("put", "/reservations/{booking_id}", again)
    assert again == first  # the same generated id, the same id of the run
    drawn_again = dict(first)  # e.g. taken from a response or a link later in the run
    rules.id_of_this_run("PUT", "/charges/{booking_id}", drawn_again)
    assert drawn_again == first
    read = {"booking_id": generated}
    rules.id_of_this_run("GET", "/reservations/{booking_id}", read)
    assert read == {"booking_id": generated}
    not_a_uuid = {"booking_id": "x"}
    rules.id_of_this_run("PUT", "/charges/{booking_id}", not_a_uuid)
    assert not_a_uuid == {"booking_id": "x"}


def test_a_path_parameter_read_as_null_names_nothing():
    # What a link gives when the field it reads is null (a notification with no booking).
    params = {"booking_id": None, "facility_id": "f3f3a3d2-4c4e-4c59-9b55-0e4d9f1c2a11"}
    rules.no_null_in_path(params)
    assert uuid.UUID(params["booking_id"])  # a well-formed id ...
    assert params["facility_id"] == "f3f3a3d2-4c4e-4c59-9b55-0e4d9f1c2a11"  # others stay
    again = {"booking_id": None}
    rules.no_null_in_path(again)
    assert again["booking_id"] == params["booking_id"]  # ... the same one in every request
    rules.no_null_in_path(None)
