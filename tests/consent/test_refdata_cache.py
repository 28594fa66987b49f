"""Consent reference data is cached per process (consent/refdata.py) under a version kept in
the shared cache: a change is seen on the next request, in this process and in any other."""

import uuid

import pytest
from django.core.cache import cache

from consent.models import ConsentProperty, Jurisdiction, Purpose
from consent.refdata import VERSION_KEY
from tests.factories import make_subject, make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(api):
    _, raw = make_token(["consent:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def _decide(api, subject, purpose="analytics"):
    return api.get("/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": purpose})


def test_a_changed_purpose_is_seen_on_the_next_request(reader):
    subject = make_subject(region="EU")
    assert _decide(reader, subject).json()["reason"] == "not_yet_collected"
    purpose = Purpose.objects.get(slug="analytics")
    purpose.essential = True
    purpose.save()
    assert _decide(reader, subject).json()["reason"] == "essential"
    assert _decide(reader, subject, "brand_new").status_code == 404
    Purpose.objects.create(slug="brand_new", name="New", description="x")
    assert _decide(reader, subject, "brand_new").status_code == 200


def test_a_changed_jurisdiction_is_seen_on_the_next_request(reader):
    subject = make_subject(region="EU")
    assert _decide(reader, subject).json()["allowed"] is False
    gdpr = Jurisdiction.objects.get(code="GDPR")
    gdpr.consent_model = Jurisdiction.ConsentModel.OPT_OUT
    gdpr.save()
    assert _decide(reader, subject).json()["reason"] == "regime_default"


def test_a_change_made_by_another_process_is_seen_through_the_shared_version(reader):
    """Another process's save moves the version in the shared cache (no signal reaches this
    process): simulated by a signal-less update plus the version move that process makes."""
    subject = make_subject(region="EU")
    assert _decide(reader, subject).json()["reason"] == "not_yet_collected"
    Purpose.objects.filter(slug="analytics").update(essential=True)
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    assert _decide(reader, subject).json()["reason"] == "essential"


def test_a_deactivated_property_is_refused_on_the_next_request(client):
    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_refdata")
    url = "/api/v1/consent/public/config/"
    assert client.get(url, {"key": "pk_refdata"}).status_code == 200
    prop.active = False
    prop.save()
    assert client.get(url, {"key": "pk_refdata"}).status_code == 401


def test_a_regime_changed_by_a_data_migration_is_seen_once_migrate_ends(reader):
    """A data migration (e.g. a regime's rules updated by an upgrade) saves through its
    migration state's model, whose signals no receiver hears: the migrate that ran it moves
    the version."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    subject = make_subject(region="EU")
    assert _decide(reader, subject).json()["reason"] == "not_yet_collected"
    state = MigrationExecutor(connection).loader.project_state().apps
    state.get_model("consent", "Jurisdiction").objects.filter(code="GDPR").update(
        consent_model=Jurisdiction.ConsentModel.OPT_OUT
    )
    call_command("migrate", verbosity=0)  # the upgrade's migrate ends (nothing left to apply)
    assert _decide(reader, subject).json()["reason"] == "regime_default"


def test_a_deactivation_the_cache_cannot_be_told_of_is_not_made(client, partitioned_cache):
    """With the shared cache unreachable the version cannot move: a deactivation written
    anyway (a save outside a transaction commits before its post_save) would leave every
    process on the old data once the cache answers again. It is refused before anything is
    written; made again once the cache answers, it is seen on the next request."""
    import time

    from redis.exceptions import RedisError

    prop = ConsentProperty.objects.create(name="Shop", publishable_key="pk_partitioned")
    url = "/api/v1/consent/public/config/"
    assert client.get(url, {"key": "pk_partitioned"}).status_code == 200  # kept now
    prop.active = False
    partitioned_cache.cut()
    assert client.get(url, {"key": "pk_partitioned"}).status_code == 503
    with pytest.raises(RedisError):
        prop.save()
    partitioned_cache.heal()
    time.sleep(0.3)  # the fail-fast window ends: the cache is tried again
    assert ConsentProperty.objects.get(pk=prop.pk).active  # not written
    prop.save()
    assert client.get(url, {"key": "pk_partitioned"}).status_code == 401
