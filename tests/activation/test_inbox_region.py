"""A message is listed to the officers of the region its call is processed in: staff of every
region may move a source to another region while its calls wait (or lie dead-lettered), and
the call then makes or updates a person of the new region. The row kept its first region, so
an EU officer saw a Californian's payload (masked) and subject id in the EU's inbox."""

from __future__ import annotations

import pytest

from activation import services
from activation.models import InboxMessage, SourceEndpoint
from profiles.models import Subject, System
from tests.activation.test_source_webhooks import IDENTIFY, post
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def _accepted_then_moved(api) -> InboxMessage:
    system = System.objects.create(name="Berlin shop", kind=System.Kind.SOURCE)
    source = SourceEndpoint.objects.create(system=system, regions=["EU"])
    assert post(api, source, IDENTIFY).status_code == 202
    SourceEndpoint.objects.filter(pk=source.pk).update(regions=["US-CA"])
    services.source_endpoint_changed(source.pk)
    return InboxMessage.objects.get()


@pytest.mark.parametrize("path", ["one by one", "in a batch"])
def test_a_call_processed_after_its_source_moved_is_listed_in_the_new_region(
    api, client, roles, path
):
    message = _accepted_then_moved(api)
    assert message.region == "EU"
    if path == "one by one":
        services.inbox_process(message.pk)
    else:
        services.inbox_drain()
    message.refresh_from_db()
    assert message.status == InboxMessage.Status.DONE
    assert Subject.objects.get(pk=message.subject_id).region == "US-CA"
    assert message.region == "US-CA"
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    assert client.get(f"/admin/activation/inboxmessage/{message.pk}/change/").status_code == 404
    client.force_login(make_staff("Privacy officer", regions=["US-CA"]))
    assert client.get(f"/admin/activation/inboxmessage/{message.pk}/change/").status_code == 200


def test_a_source_left_with_no_region_keeps_its_dead_letters_where_they_were(api):
    message = _accepted_then_moved(api)
    SourceEndpoint.objects.filter(pk=message.source_id).update(regions=[])
    services.source_endpoint_changed(message.source_id)
    services.inbox_process(message.pk)
    message.refresh_from_db()
    assert (message.status, message.region) == (InboxMessage.Status.DEAD, "EU")
