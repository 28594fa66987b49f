"""The cached API principal (access/principals.py) never outlives a change: a revoked token, a
removed role, a changed region scope or token region is refused on the very next request."""

import pytest
from django.contrib.auth.models import Group

from access.models import ApiToken, RegionScope
from access.services import api_token_revoke
from audit.actors import Actor
from tests.factories import make_subject, make_token

pytestmark = pytest.mark.django_db


def _decision(api, subject):
    return api.get(
        "/api/v1/consent/decision/", {"subject": str(subject.pk), "purpose": "analytics"}
    )


@pytest.fixture
def caller(api, regimes):
    token, raw = make_token(["consent:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api, token


def test_a_revoked_token_is_refused_on_the_next_request(caller):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    assert _decision(api, subject).status_code == 200  # served from the cache
    api_token_revoke(token=token, actor=Actor.system("tests"))
    assert _decision(api, subject).status_code == 401


def test_a_removed_role_is_refused_on_the_next_request(caller):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    token.user.groups.remove(Group.objects.get(name="Service account"))
    assert _decision(api, subject).status_code == 403


def test_a_narrowed_region_scope_applies_on_the_next_request(caller):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    scope = RegionScope.objects.get(user=token.user)
    scope.all_regions, scope.regions = False, ["US-CA"]
    scope.save()
    assert _decision(api, subject).status_code == 404


def test_a_narrowed_token_region_applies_on_the_next_request(caller):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    token = ApiToken.objects.get(pk=token.pk)
    token.all_regions, token.regions = False, ["BR"]
    token.save()
    assert _decision(api, subject).status_code == 404


def test_a_deactivated_user_is_refused_on_the_next_request(caller):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    user = token.user
    user.is_active = False
    user.save()
    assert _decision(api, subject).status_code == 401


def test_a_principal_cached_under_an_older_generation_is_never_used(caller):
    """A change made without a signal (`QuerySet.update()`) is seen once the service moves the
    generation, although the old entry is still in the cache."""
    from django.utils import timezone

    from access.principals import principal_generation_bump

    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200  # cached now
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert _decision(api, subject).status_code == 200  # no signal: the cached entry still holds
    principal_generation_bump()
    assert _decision(api, subject).status_code == 401


def test_a_token_use_is_written_at_most_once_a_minute(caller, django_assert_max_num_queries):
    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    with django_assert_max_num_queries(1):  # the decision's own statement, no last-use write
        assert _decision(api, subject).status_code == 200


def _historical_model(app_label: str, name: str):
    """The model as a data migration sees it (`apps.get_model` in RunPython): its saves send
    signals that no receiver of the real model hears."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection).loader.project_state().apps.get_model(app_label, name)


def test_a_token_revoked_by_a_data_migration_is_refused_once_migrate_ends(caller):
    from django.core.management import call_command
    from django.utils import timezone

    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200  # cached now
    row = _historical_model("access", "ApiToken").objects.get(pk=token.pk)
    row.revoked_at = timezone.now()
    row.save()
    call_command("migrate", verbosity=0)  # the upgrade's migrate ends (nothing left to apply)
    assert _decision(api, subject).status_code == 401


def test_a_deactivation_the_cache_cannot_be_told_of_is_not_made(caller, partitioned_cache):
    """With the shared cache unreachable the generation cannot move: a change written anyway
    (a save outside a transaction commits before its post_save) would be served from every
    process's copy once the cache answers again, the old generation being still there. So the
    change is refused before anything is written; made again once the cache answers, it is
    refused to the token on the next request."""
    import time

    from django.contrib.auth import get_user_model
    from redis.exceptions import RedisError

    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200  # cached now, in the cache and here
    user = get_user_model().objects.get(pk=token.user_id)
    user.is_active = False
    partitioned_cache.cut()
    assert _decision(api, subject).status_code == 503  # never this process's copy
    with pytest.raises(RedisError):
        user.save()
    partitioned_cache.heal()
    time.sleep(0.3)  # the fail-fast window ends: the cache is tried again
    assert get_user_model().objects.get(pk=user.pk).is_active  # not written
    assert _decision(api, subject).status_code == 200
    user.save()
    assert _decision(api, subject).status_code == 401


def test_a_generation_the_cache_went_back_to_is_not_trusted_again(caller):
    """A cache restored from an older snapshot, or failed over to a replica that missed the
    last writes, holds an older generation again: what was cached under it (here, and in the
    shared cache) would be trusted again. A process that saw a newer one moves it on."""
    from django.core.cache import cache

    from access.principals import GENERATION_KEY

    api, token = caller
    subject = make_subject(region="EU")
    assert _decision(api, subject).status_code == 200  # cached now, under this generation
    before = cache.get(GENERATION_KEY)
    api_token_revoke(token=token, actor=Actor.system("tests"))  # moves it on
    cache.set(GENERATION_KEY, before, timeout=None)  # the cache went back
    assert _decision(api, subject).status_code == 401
    assert cache.get(GENERATION_KEY) not in (None, before)
