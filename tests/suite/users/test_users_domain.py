import uuid
from datetime import UTC, datetime

import pytest

from system_under_test.users import domain

pytestmark = pytest.mark.unit
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_register_normalises_email_and_name():
    user = domain.register("  Ann.Smith@Example.COM ", "  Ann   Smith ", NOW)
    assert user.email == "ann.smith@example.com"
    assert user.name == "Ann Smith"
    assert user.created_at == NOW
    assert isinstance(user.id, uuid.UUID)


@pytest.mark.parametrize(
    "email", ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "a@@b.com"]
)
def test_register_rejects_what_cannot_be_an_address(email):
    with pytest.raises(domain.InvalidUser):
        domain.register(email, "Ann", NOW)


@pytest.mark.parametrize("email", ["a\x00b@example.com", "a\ud800@example.com"])
def test_register_rejects_what_the_database_cannot_store(email):
    with pytest.raises(domain.InvalidUser):
        domain.register(email, "Ann", NOW)
    with pytest.raises(domain.InvalidUser):
        domain.register("ann@example.com", email, NOW)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_register_rejects_empty_or_overlong_name(name):
    with pytest.raises(domain.InvalidUser):
        domain.register("ann@example.com", name, NOW)


def test_register_needs_an_aware_clock():
    with pytest.raises(ValueError):
        domain.register("ann@example.com", "Ann", datetime(2030, 1, 1))


def test_created_event_carries_what_a_greeting_needs():
    user = domain.register("ann@example.com", "Ann", NOW)
    assert domain.created_event_data(user) == {
        "user_id": str(user.id),
        "email": "ann@example.com",
        "name": "Ann",
    }


@pytest.mark.parametrize("name", ["\x85", "\u2000\u3000", "\ufeff", "Ann\x9b"])
def test_names_blank_or_with_control_characters_in_any_script_are_refused(name):
    with pytest.raises(domain.InvalidUser):
        domain.register("ann@example.com", name, NOW)


def test_schema_patterns_and_domain_agree():
    import re

    assert re.match(domain.EMAIL_PATTERN, "ann@example.com")
    assert not re.match(domain.EMAIL_PATTERN, "ann@exa\x85mple.com")
    assert re.match(domain.NAME_PATTERN, "Zoë O'Brien-Łukasz 李")
    assert domain.register("ann@example.com", "Zoë O'Brien-Łukasz 李", NOW).name
