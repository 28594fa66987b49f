"""The review queue's bulk actions decide each pair on its own: a pair decided meanwhile (a
merge earlier in the same batch closes the other reviews of the subject it merged) is named
on the list, the others still run, and the officer never gets a 500. A service's refusal in
any scoped admin's action is shown as a message, as the API words it."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from core.errors import ConflictError
from profiles import services
from profiles.models import Identifier, MatchReview, MergeLineage, Subject
from tests.factories import make_review_pair, make_staff, make_subject, signed_in

pytestmark = pytest.mark.django_db


def _act(client, url, action, *pks):
    data = {"action": action, "confirmed": "yes", helpers.ACTION_CHECKBOX_NAME: list(pks)}
    return client.post(url, data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_accepting_two_reviews_of_one_subject_merges_once_and_names_the_other(roles):
    _older, review = make_review_pair("pair")
    other = MatchReview.objects.create(
        subject=review.subject, candidate=make_subject(email="third@example.com"), score=0.5
    )
    client = signed_in(make_staff("Privacy officer", regions=["EU"]))
    r = _act(client, "/admin/profiles/matchreview/", "accept", review.pk, other.pk)
    assert r.status_code == 200
    assert MergeLineage.objects.count() == 1
    shown = _messages(r)
    assert any("already decided" in m for m in shown), shown
    assert any("1 match(es) merged" in m for m in shown), shown


def test_a_refused_split_is_a_message_on_the_list_not_a_500(roles, monkeypatch):
    _older, review = make_review_pair("split")
    officer = make_staff("Privacy officer", regions=["EU"])
    client = signed_in(officer)
    _act(client, "/admin/profiles/matchreview/", "accept", review.pk)
    lineage = MergeLineage.objects.get()

    def refused(**kwargs):
        raise ConflictError("One of these subjects was erased or merged meanwhile.")

    monkeypatch.setattr(services, "subject_split", refused)
    r = _act(client, "/admin/profiles/mergelineage/", "split", lineage.pk)
    assert r.status_code == 200
    assert any("erased or merged meanwhile" in m for m in _messages(r))
    assert Subject.objects.filter(status=Subject.Status.MERGED).count() == 1


def test_a_refusal_raised_by_any_scoped_admins_action_is_a_message(roles, monkeypatch):
    _older, review = make_review_pair("guard")
    client = signed_in(make_staff("Privacy officer", regions=["EU"]))

    def refused(**kwargs):
        raise ConflictError("This match was decided meanwhile.")

    from profiles.admin import MatchReviewAdmin

    monkeypatch.setattr(MatchReviewAdmin, "_decide", lambda *a, **k: refused())
    r = _act(client, "/admin/profiles/matchreview/", "reject", review.pk)
    assert r.status_code == 200
    assert any("decided meanwhile" in m for m in _messages(r))


def _merged_across(survivor_region: str, merged_region: str) -> MergeLineage:
    """A Californian folded into an EU subject (or the reverse) by staff of every region."""
    from audit.actors import Actor

    survivor = make_subject(region=survivor_region, email="kept@example.com")
    merged = make_subject(region=merged_region, email="folded@example.com")
    return services.subjects_merge(
        survivor=survivor,
        merged=merged,
        method="manual",
        confidence=1.0,
        signals=[],
        actor=Actor.system("tests"),
    )


def test_an_eu_officer_cannot_split_a_californian_back_out_of_an_eu_subject(roles):
    """The merge needed both regions; its undo rewrote the Californian's own row (active again,
    moved to the EU) for an officer of the EU only."""
    lineage = _merged_across("EU", "US-CA")
    client = signed_in(make_staff("Privacy officer", regions=["EU"]))
    r = _act(client, "/admin/profiles/mergelineage/", "split", lineage.pk)
    assert r.status_code == 200
    assert any("not found" in m for m in _messages(r)), _messages(r)
    lineage.refresh_from_db()
    assert lineage.split_at is None
    folded = Subject.objects.get(pk=lineage.merged_subject_id)
    assert (folded.status, folded.region) == (Subject.Status.MERGED, "US-CA")


def test_an_officer_of_both_regions_splits_it(roles):
    lineage = _merged_across("EU", "US-CA")
    client = signed_in(make_staff("Privacy officer", regions=["EU", "US-CA"]))
    _act(client, "/admin/profiles/mergelineage/", "split", lineage.pk)
    lineage.refresh_from_db()
    assert lineage.split_at is not None
    restored = Subject.objects.get(pk=lineage.merged_subject_id)
    # A Californian again: its own region (and so California's regime), identifiers with it.
    assert (restored.status, restored.region) == (Subject.Status.ACTIVE, "US-CA")
    assert set(Identifier.objects.filter(subject=restored).values_list("region", flat=True)) == {
        "US-CA"
    }
    assert not Identifier.objects.filter(subject_id=lineage.survivor_id, region="US-CA").exists()
