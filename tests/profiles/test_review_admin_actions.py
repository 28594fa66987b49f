"""The review queue's bulk actions decide each pair on its own: a pair decided meanwhile (a
merge earlier in the same batch closes the other reviews of the subject it merged) is named
on the list, the others still run, and the officer never gets a 500. A service's refusal in
any scoped admin's action is shown as a message, as the API words it."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers

from core.errors import ConflictError
from profiles import services
from profiles.models import MatchReview, MergeLineage, Subject
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
