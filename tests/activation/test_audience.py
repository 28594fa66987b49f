"""Destinations: the audience feed holds exactly the people whose current consent allows every
purpose of the destination (explicit grants; an opt-out regime's default; never GPC opt-outs,
withdrawals or an opt-in regime's silence), in the token's regions; identifiers hashed unless
the destination takes them in clear; `?since=` returns who was added and removed."""

from __future__ import annotations

import hashlib

import pytest

from activation.models import Destination
from audit.actors import Actor
from consent.models import Purpose
from consent.services import Proof, consent_record
from profiles.models import System
from tests.factories import make_subject, make_token

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def _record(subject, slug, state, **kwargs):
    return consent_record(
        purpose=Purpose.objects.get(slug=slug),
        state=state,
        channel="api",
        actor=SYSTEM,
        subject=subject,
        **kwargs,
    )


def _destination(api, *slugs, regions=None, clear=False):
    token, raw = make_token(["destinations:read"], regions=regions)
    system = System.objects.create(name=f"Tool {slugs} {token.pk}", kind=System.Kind.DESTINATION)
    destination = Destination.objects.create(system=system, token=token, clear_identifiers=clear)
    destination.purposes.set(Purpose.objects.filter(slug__in=slugs))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return destination


def _feed(api, destination, **params):
    url = f"/api/v1/destinations/{destination.pk}/audience/"
    ids, after = [], None
    while True:
        query = {**params, **({"after": after} if after else {})}
        body = api.get(url, query).json()
        ids += [row["subject_id"] for row in body["results"]]
        after = body["next"]
        if not after:
            return ids, body


def test_feed_holds_exactly_the_consented_people(api):
    granted = make_subject(region="EU")
    _record(granted, "marketing_email", "granted")
    silent_eu = make_subject(region="EU")  # opt-in regime: no answer is no
    withdrawn = make_subject(region="EU")
    _record(withdrawn, "marketing_email", "granted")
    _record(withdrawn, "marketing_email", "withdrawn")
    silent_ca = make_subject(region="US-CA")  # opt-out regime: no answer is yes
    denied_ca = make_subject(region="US-CA")
    _record(denied_ca, "marketing_email", "denied")
    destination = _destination(api, "marketing_email")
    ids, _ = _feed(api, destination, limit=1)  # one per page: the cursor walks them all
    assert sorted(ids) == sorted([str(granted.pk), str(silent_ca.pk)])
    assert str(silent_eu.pk) not in ids
    assert str(withdrawn.pk) not in ids


def test_gpc_opt_out_and_every_purpose_required(api):
    sold = make_subject(region="US-CA")
    gpc = make_subject(region="US-CA")
    _record(gpc, "sale_sharing", "denied", proof=Proof(gpc=True))
    only_one = make_subject(region="EU")
    _record(only_one, "marketing_email", "granted")
    both = make_subject(region="EU")
    _record(both, "marketing_email", "granted")
    _record(both, "analytics", "granted")
    destination = _destination(api, "sale_sharing")
    ids, _ = _feed(api, destination)
    assert str(sold.pk) in ids
    assert str(gpc.pk) not in ids
    two = _destination(api, "marketing_email", "analytics")
    ids, _ = _feed(api, two)
    assert str(both.pk) in ids
    assert str(only_one.pk) not in ids


def test_token_regions_and_identifiers_hashed_or_clear(api):
    eu = make_subject(region="EU", email="Nina.Weber@Example.de", phone="+49 151 23456789")
    _record(eu, "marketing_email", "granted")
    ca = make_subject(region="US-CA")
    destination = _destination(api, "marketing_email", regions=["EU"])
    _, body = _feed(api, destination)
    assert [row["subject_id"] for row in body["results"]] == [str(eu.pk)]
    row = body["results"][0]
    assert row["email_sha256"] == [hashlib.sha256(b"nina.weber@example.de").hexdigest()]
    assert row["phone_sha256"] == [hashlib.sha256(b"+4915123456789").hexdigest()]
    assert "Nina" not in str(body)
    assert str(ca.pk) not in str(body)
    clear = _destination(api, "marketing_email", clear=True)
    _, body = _feed(api, clear)
    assert {
        "subject_id": str(eu.pk),
        "email": ["nina.weber@example.de"],
        "phone": ["+4915123456789"],
    } in body["results"]


def test_changes_feed_added_then_removed(api):
    person = make_subject(region="EU")
    destination = _destination(api, "marketing_email")
    url = f"/api/v1/destinations/{destination.pk}/audience/"
    first = api.get(url, {"since": 0}).json()
    assert first["added"] == []
    assert first["removed"] == []
    _record(person, "marketing_email", "granted")
    second = api.get(url, {"since": first["cursor"]}).json()
    assert [a["subject_id"] for a in second["added"]] == [str(person.pk)]
    assert "email_sha256" in second["added"][0]
    _record(person, "marketing_email", "withdrawn")
    assert str(person.pk) not in _feed(api, destination)[0]  # at once in the feed
    third = api.get(url, {"since": second["cursor"]}).json()
    assert third["removed"] == [{"subject_id": str(person.pk)}]
    assert third["added"] == []
    assert api.get(url, {"since": third["cursor"]}).json()["removed"] == []


def test_another_destinations_token_and_wrong_scope_are_refused(api):
    mine = _destination(api, "marketing_email")
    _destination(api, "analytics")  # the client now holds the other destination's token
    assert api.get(f"/api/v1/destinations/{mine.pk}/audience/").status_code == 404
    _, raw = make_token(["profiles:read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/destinations/{mine.pk}/audience/").status_code == 403


def test_destination_admin_shows_purposes_and_audience_count(api, client, roles):
    from tests.factories import make_staff

    person = make_subject(region="EU")
    _record(person, "marketing_email", "granted")
    destination = _destination(api, "marketing_email")
    api.get(f"/api/v1/destinations/{destination.pk}/audience/", {"since": 0})
    client.force_login(make_staff("DPO"))
    page = client.get("/admin/activation/destination/").content.decode()
    assert "marketing_email" in page
    assert '<td class="field-audience_now">1</td>' in page


def test_staff_csv_export_holds_only_consented_people_and_is_audited(api, client, roles):
    from audit.models import AuditEvent
    from tests.factories import make_staff

    yes = make_subject(region="EU", email="yes@example.com")
    _record(yes, "marketing_email", "granted")
    no = make_subject(region="EU", email="no@example.com")
    destination = _destination(api, "marketing_email")
    client.force_login(make_staff("DPO"))
    response = client.post(
        "/admin/activation/destination/",
        {"action": "export_audience", "_selected_action": [str(destination.pk)]},
    )
    text = _streamed(response)
    assert str(yes.pk) in text
    assert str(no.pk) not in text
    assert hashlib.sha256(b"yes@example.com").hexdigest() in text
    event = AuditEvent.objects.get(action="activation.audience.export")
    assert "marketing_email" in event.reason
    assert "1 rows" in event.reason
    assert "yes@" not in event.reason


def test_a_clear_identifier_cannot_become_a_spreadsheet_formula_in_the_export(api, client, roles):
    """An address is the person's own input: a local part starting with '=' must reach the
    officer's spreadsheet as text, not as a formula (the same cell rule as every CSV here)."""
    from tests.factories import make_staff

    person = make_subject(region="EU", email="=1+1@example.com")
    _record(person, "marketing_email", "granted")
    destination = _destination(api, "marketing_email", clear=True)
    client.force_login(make_staff("DPO"))
    response = client.post(
        "/admin/activation/destination/",
        {"action": "export_audience", "_selected_action": [str(destination.pk)]},
    )
    text = _streamed(response)
    assert "'=1+1@example.com" in text
    assert ",=1+1@example.com" not in text


def test_data_map_shows_each_destinations_purposes_and_who_it_may_receive_now(api, client, roles):
    """The data map (admin page) counts, per destination, the people whose consent allows every
    purpose it serves, now (no sync needed), within the viewer's regions; never who they are."""
    from consent.art30 import data_map
    from tests.factories import make_staff

    eu_yes = make_subject(region="EU", email="eu.yes@example.com")
    _record(eu_yes, "marketing_email", "granted")
    make_subject(region="EU")  # opt-in regime: silence is a no
    br_yes = make_subject(region="BR")
    _record(br_yes, "marketing_email", "granted")
    withdrawn = make_subject(region="EU")
    _record(withdrawn, "marketing_email", "granted")
    _record(withdrawn, "marketing_email", "withdrawn")
    mailer = _destination(api, "marketing_email")
    both = _destination(api, "marketing_email", "analytics")

    dpo = make_staff("DPO")
    rows = {row["system"]: row for row in data_map(who=dpo)}
    assert rows[mailer.system.name]["destination"] == {
        "purposes": ["marketing_email"],
        "audience": 2,
    }
    assert rows[both.system.name]["destination"]["audience"] == 0
    assert "destination" not in next(iter(data_map()))  # without a viewer: no counts

    officer_eu = make_staff("Privacy officer", regions=["EU"])
    eu_rows = {row["system"]: row for row in data_map(who=officer_eu)}
    assert eu_rows[mailer.system.name]["destination"]["audience"] == 1

    client.force_login(officer_eu)
    page = client.get("/admin/consent/processingactivity/data-map/").content.decode()
    assert "purposes marketing_email;" in page
    assert "may receive now: <strong>1</strong> person" in page
    assert "eu.yes" not in page
    _record(eu_yes, "marketing_email", "withdrawn")  # a withdrawal counts at once
    page = client.get("/admin/consent/processingactivity/data-map/").content.decode()
    assert "may receive now: <strong>0</strong> people" in page


def test_staff_export_is_limited_to_the_officers_regions_and_audits_no_one(api, client, roles):
    from audit.models import AuditEvent
    from tests.factories import make_staff

    eu = make_subject(region="EU", email="eu.person@example.com")
    _record(eu, "marketing_email", "granted")
    br = make_subject(region="BR", email="br.person@example.com")
    _record(br, "marketing_email", "granted")
    destination = _destination(api, "marketing_email")
    client.force_login(make_staff("Privacy officer", regions=["EU"]))
    text = _streamed(
        client.post(
            "/admin/activation/destination/",
            {"action": "export_audience", "_selected_action": [str(destination.pk)]},
        )
    )
    assert text.splitlines()[0] == "subject_id,email_sha256,phone_sha256"
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [str(eu.pk)]
    event = AuditEvent.objects.get(action="activation.audience.export")
    assert event.reason == "purposes marketing_email; 1 rows"
    assert str(eu.pk) not in str(event.__dict__)
    assert "eu.person" not in str(event.__dict__)


def _streamed(response) -> str:
    """The CSV of an export: streamed, never built as one string in the web process."""
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_the_audience_export_streams_its_lines_chunk_by_chunk(api, roles, monkeypatch):
    """Each chunk of identifiers is read when its lines are wanted: an audience of a million
    people is never one string (it was joined whole before the response began)."""
    from activation import services
    from audit.actors import Actor
    from tests.factories import make_staff

    people = [make_subject(region="EU") for _ in range(3)]
    for person in people:
        _record(person, "marketing_email", "granted")
    destination = _destination(api, "marketing_email")
    monkeypatch.setattr(services, "EXPORT_CHUNK", 1)
    reads = []
    real = services.selectors.identifiers_of
    monkeypatch.setattr(
        services.selectors, "identifiers_of", lambda ids, **kw: reads.append(ids) or real(ids, **kw)
    )
    lines, rows = services.audience_export_csv(
        who=make_staff("DPO"), destination=destination, actor=Actor.system("tests")
    )
    assert rows == 3
    assert next(lines) == "subject_id,email_sha256,phone_sha256\r\n"
    next(lines)
    assert len(reads) == 1
    assert len(list(lines)) == 2
    assert len(reads) == 3


def _purpose_export(client, slug, identifiers="sha256"):
    response = client.post(
        "/admin/activation/destination/export-purpose/",
        {"purpose": slug, "identifiers": identifiers},
    )
    if response.status_code != 200 or not response.streaming:
        return response, None
    return response, b"".join(response.streaming_content).decode()


def test_staff_export_for_one_purpose_holds_exactly_the_people_it_may_use(client, roles):
    """Export for one purpose from the admin: explicit grants and an opt-out regime's silence
    are in; refusals, withdrawals, GPC opt-outs and an opt-in regime's silence are out; the
    officer's regions apply; the audit row says purpose, size and form, never who."""
    from audit.models import AuditEvent
    from tests.factories import make_staff

    granted = make_subject(region="EU", email="granted@example.com")
    _record(granted, "sale_sharing", "granted")
    make_subject(region="EU", email="silent.eu@example.com")  # opt-in: silence is a no
    withdrawn = make_subject(region="EU")
    _record(withdrawn, "sale_sharing", "granted")
    _record(withdrawn, "sale_sharing", "withdrawn")
    silent_ca = make_subject(region="US-CA", phone="+1 415 555 0100")  # opt-out: silence is yes
    gpc = make_subject(region="US-CA")
    _record(gpc, "sale_sharing", "denied", proof=Proof(gpc=True))
    br = make_subject(region="BR")
    _record(br, "sale_sharing", "granted")

    client.force_login(make_staff("DPO"))
    response, text = _purpose_export(client, "sale_sharing")
    assert response["Content-Disposition"] == 'attachment; filename="consented-sale_sharing.csv"'
    lines = text.splitlines()
    assert lines[0] == "subject_id,email_sha256,phone_sha256"
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(
        str(s.pk) for s in (granted, silent_ca, br)
    )
    assert hashlib.sha256(b"granted@example.com").hexdigest() in text
    assert hashlib.sha256(b"+14155550100").hexdigest() in text
    assert "granted@" not in text
    event = AuditEvent.objects.get(action="activation.purpose.export")
    assert event.reason == "purpose sale_sharing; 3 rows; identifiers sha256"
    assert event.object_type == "consent.purpose"

    client.force_login(make_staff("Privacy officer", regions=["US-CA"]))
    _, text = _purpose_export(client, "sale_sharing")
    assert [line.split(",")[0] for line in text.splitlines()[1:]] == [str(silent_ca.pk)]


def test_clear_identifiers_in_a_purpose_export_need_the_unmask_permission(client, roles):
    """A marketing analyst exports hashed lists (the ad platforms' form) but never clear
    identifiers; a DPO, who may see unmasked data, can."""
    from audit.models import AuditEvent
    from tests.factories import make_staff

    person = make_subject(region="EU", email="Nina.Weber@Example.de")
    _record(person, "marketing_email", "granted")
    client.force_login(make_staff("Marketing analyst", regions=["EU"]))
    purposes_page = client.get("/admin/consent/purpose/").content.decode()
    assert "/admin/activation/destination/export-purpose/" in purposes_page
    response, text = _purpose_export(client, "marketing_email", "clear")
    assert text is None
    assert "needs the permission to view unmasked data" in response.content.decode()
    assert not AuditEvent.objects.filter(action="activation.purpose.export").exists()
    _, text = _purpose_export(client, "marketing_email")
    assert text.splitlines()[1].startswith(
        f"{person.pk},{hashlib.sha256(b'nina.weber@example.de').hexdigest()}"
    )
    client.force_login(make_staff("DPO"))
    _, text = _purpose_export(client, "marketing_email", "clear")
    assert text.splitlines()[0] == "subject_id,email,phone"
    assert f"{person.pk},nina.weber@example.de," in text
    assert (
        AuditEvent.objects.filter(
            action="activation.purpose.export", reason__endswith="identifiers clear"
        ).count()
        == 1
    )


def test_a_support_agent_cannot_export_people(client, roles):
    from tests.factories import make_staff

    client.force_login(make_staff("Support agent", regions=["EU"]))
    assert client.get("/admin/activation/destination/export-purpose/").status_code == 403
    response, text = _purpose_export(client, "marketing_email")
    assert response.status_code == 403
    assert text is None


@pytest.mark.parametrize("how", ["revoked", "expired", "user deactivated"])
def test_a_push_stops_once_its_destinations_token_is_revoked(api, how):
    """The push acts with the destination's token (its regions decide who is sent): a token
    refused at the API is refused to the push as well, from its next run."""
    import datetime as dt

    from django.utils import timezone

    from access.services import api_token_revoke
    from activation.services import destinations_push
    from consent.models import ConsentWebhook

    destination = _destination(api, "marketing_email")
    destination.push_webhook = ConsentWebhook.objects.create(
        name="Tool", url="http://127.0.0.1:9/", secret="s", consent_changes=False
    )
    destination.save()
    _record(make_subject(region="EU"), "marketing_email", "granted")
    token = destination.token
    if how == "revoked":
        api_token_revoke(token=token, actor=SYSTEM)
    elif how == "expired":
        type(token).objects.filter(pk=token.pk).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    else:
        token.user.is_active = False
        token.user.save()
    assert destinations_push() == 0
