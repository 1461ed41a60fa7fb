"""How database errors become the contract's answers, and what the log keeps of them."""

import logging

import pytest
from django.db import IntegrityError, transaction
from rest_framework import exceptions

from delight.api import _translate
from tests.factories import UserFactory


@pytest.mark.django_db
def test_a_conflict_is_logged_by_constraint_never_by_value(caplog):
    """Issue #12 item 10: the database's message quotes the conflicting value (a username, a
    Clerk id: personal data); the log line names the constraint only."""
    UserFactory(clerk_user_id="user_private_person", username="private.person")
    with pytest.raises(IntegrityError) as conflict, transaction.atomic():
        UserFactory.create(clerk_user_id="user_other", username="private.person")
    assert "private.person" in str(conflict.value)  # what must not reach the log
    with caplog.at_level(logging.WARNING, logger="delight.api"):
        translated = _translate(conflict.value)
    assert isinstance(translated, exceptions.APIException)
    assert translated.status_code == 409
    (line,) = [r.getMessage() for r in caplog.records if r.name == "delight.api"]
    assert "private.person" not in line
    assert "users_username_key" in line


def test_database_errors_are_counted_for_the_metrics():
    from django.db import OperationalError

    from delight import metrics

    counter = metrics.DATABASE_ERRORS.labels(kind="connection")
    before = counter._value.get()
    assert _translate(OperationalError("server closed the connection")).status_code == 503
    assert counter._value.get() == before + 1
