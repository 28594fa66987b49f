"""core.db.values: hand-written inserts prepare each value exactly as the field's own
get_db_prep_save does, on the database under test (the shortcut only skips calls that would
return the value unchanged)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection

from audit.actors import Actor
from consent.models import ConsentRecord, CurrentConsent, Purpose
from consent.services import consent_record
from core.db.values import db_values
from tests.factories import make_subject

pytestmark = pytest.mark.django_db


def _expected(fields, values):
    return [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]


@pytest.mark.parametrize("model", [ConsentRecord, CurrentConsent])
def test_the_values_of_stored_rows_are_prepared_as_their_fields_prepare_them(model):
    consent_record(
        purpose=Purpose.objects.get(slug="analytics"),
        state="granted",
        channel="api",
        actor=Actor.system("tests"),
        subject=make_subject(region="EU"),
    )
    fields = tuple(model._meta.concrete_fields)
    for row in model.objects.all():
        values = [getattr(row, f.attname) for f in fields]
        assert db_values(fields, values, connection) == _expected(fields, values)


def test_values_of_another_type_than_the_field_holds_are_converted_by_the_field():
    meta = ConsentRecord._meta
    fields = tuple(meta.get_field(n) for n in ("visitor_id", "gpc", "purpose", "id", "recorded_at"))
    values = [12345, 1, True, uuid.uuid4(), dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)]
    prepared = db_values(fields, values, connection)
    assert prepared == _expected(fields, values)
    assert prepared[0] == "12345"  # a number for a text column is sent as text
    assert prepared[2] == 1 and type(prepared[2]) is int  # noqa: PT018 - a bool for an id
