"""Fuzzy identity resolution on keyed encodings: the Fellegi-Sunter model learns its weights
from the data and from officers' decisions, re-scores the queue, and a wrong merge can be
split; no encoding reveals a value without the hub's key."""

import base64
import io
import json
import os

import numpy as np
import pytest

from audit.actors import Actor
from profiles.matching import encode, model
from profiles.models import (
    Identifier,
    MatchModel,
    MatchProfile,
    MatchReview,
    MergeLineage,
    Subject,
)
from profiles.services import (
    match_candidates,
    match_model_current,
    match_model_estimate,
    match_review_decide,
    match_reviews_rescore,
    subject_split,
    subject_upsert,
)
from profiles.services.matching import match_contests_batch
from tests.factories import make_match_population, make_review_pair, make_subject

SYSTEM = Actor.system("tests")


def _upsert(email, **attributes):
    return subject_upsert(
        record={
            "region": "EU",
            "identifiers": [{"kind": "email", "value": email}],
            "attributes": attributes,
        },
        actor=SYSTEM,
    )


def _synthetic(n: int, lam: float, m: dict, u: dict, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < lam
    columns = []
    for name in model.FIELDS:
        from_m = rng.choice(len(m[name]), size=n, p=m[name])
        from_u = rng.choice(len(u[name]), size=n, p=u[name])
        columns.append(np.where(is_match, from_m, from_u))
    return np.stack(columns, axis=1)


def test_em_recovers_known_m_and_u_from_a_synthetic_set():
    true_m = {
        "first_name": [0.7, 0.1, 0.1, 0.05, 0.05],
        "last_name": [0.8, 0.08, 0.06, 0.03, 0.03],
        "birth_date": [0.85, 0.05, 0.05, 0.05],
        "postcode": [0.8, 0.1, 0.1],
        "address": [0.6, 0.2, 0.1, 0.1],
        "city": [0.8, 0.1, 0.1],
    }
    true_u = {
        "first_name": [0.02, 0.01, 0.05, 0.07, 0.85],
        "last_name": [0.01, 0.01, 0.03, 0.05, 0.9],
        "birth_date": [0.01, 0.01, 0.08, 0.9],
        "postcode": [0.05, 0.1, 0.85],
        "address": [0.01, 0.02, 0.07, 0.9],
        "city": [0.05, 0.05, 0.9],
    }
    vectors = _synthetic(20_000, 0.2, true_m, true_u)
    start = model.Parameters.prior(target_precision=0.995, review_floor=0.05)
    start.lam = 0.05  # far from the truth: EM has to find it
    fitted = model.estimate(vectors, start=start, iterations=200)
    assert fitted.lam == pytest.approx(0.2, abs=0.01)
    for name in model.FIELDS:
        assert np.allclose(fitted.m[name], true_m[name], atol=0.03), name
        assert np.allclose(fitted.u[name], true_u[name], atol=0.03), name


def test_thresholds_follow_the_target_precision_not_a_hand_set_number():
    params = model.Parameters.prior(target_precision=0.995, review_floor=0.05)
    strict, _ = model.thresholds(
        params, np.zeros((0, 6)), target_precision=0.9999, target_recall=0.99
    )
    loose, _ = model.thresholds(params, np.zeros((0, 6)), target_precision=0.99, target_recall=0.99)
    assert strict > loose
    assert model.probability(strict) == pytest.approx(0.9999)


@pytest.mark.django_db
def test_a_typo_in_the_name_still_finds_the_person_through_blocking():
    first = make_subject(
        email="t1@example.com",
        first_name="Katherine",
        last_name="Mcdonald",
        birth_date="1985-03-14",
        postcode="4223",
        address="12 stanley street",
    )
    result = _upsert(
        "t2@example.com",
        first_name="Katharine",
        last_name="Mcdonlad",
        birth_date="1985-14-03",
        postcode="4223",
        address="12 stanly street",
    )
    assert result.subject_id == first.pk  # merged: typos, transposed date, same place
    lineage = MergeLineage.objects.get(survivor=first)
    levels = {row["field"]: row["level"] for row in lineage.explanation}
    assert levels["birth_date"] == "day/month transposed"
    assert levels["first_name"].startswith("bloom dice")


def _namesakes() -> None:
    """Four other Jane Does, four other Janes and four other Does born 1980-06-15: every pair
    of signals Jane Doe born that day shares with anyone is common (more than
    CUSTODIA_MATCH_BLOCK_MAX = 3 others), postcodes all apart."""
    people = [("jane", "doe", f"197{n}-0{n + 1}-2{n}") for n in range(4)]
    people += [("jane", last, "1980-06-15") for last in ("brown", "green", "white", "black")]
    people += [(first, "doe", "1980-06-15") for first in ("mary", "anne", "ruth", "lucy")]
    for n, (first, last, born) in enumerate(people):
        make_subject(
            email=f"namesake{n}@example.com",
            first_name=first,
            last_name=last,
            birth_date=born,
            postcode=f"{n + 1}{n}00",
        )


@pytest.mark.django_db
def test_a_common_blocking_key_is_skipped_not_read_in_part(settings):
    _namesakes()
    probe = make_subject(
        email="probe@example.com",
        first_name="jane",
        last_name="doe",
        birth_date="1966-11-30",
        postcode="9990",
    )
    # Its only shared keys (first and last name; first name or last name with nothing else)
    # are common: no candidate is read from them.
    assert match_candidates(probe) == []
    settings.CUSTODIA_MATCH_BLOCK_MAX = 10  # a smaller population's setting: read them
    names = {s.candidate.pk for s in match_candidates(probe)}
    assert len(names) == 4  # the four Jane Does


@pytest.mark.django_db
def test_a_pair_agreeing_on_three_signals_is_found_although_its_pair_keys_are_common():
    _namesakes()
    twin = make_subject(
        email="jane@example.com",
        first_name="jane",
        last_name="doe",
        birth_date="1980-06-15",
        postcode="8800",
    )
    # Every pair key of these two (name, first name and date, last name and date) is shared
    # by more than three others; only the triple (names and date) is theirs alone.
    result = _upsert(
        "jane.doe@example.net",
        first_name="jane",
        last_name="doe",
        birth_date="1980-06-15",
        postcode="7700",
    )
    assert result.subject_id == twin.pk


@pytest.mark.django_db
def test_an_import_chunk_is_proposed_active_subjects_only_with_their_region():
    attributes = {
        "first_name": "ines",
        "last_name": "moreau",
        "birth_date": "1979-03-02",
        "postcode": "4410",
        "address": "12 rue des lilas",
        "city": "nantes",
    }
    stale = make_subject(email="ines@example.com", **attributes)
    # A subject ended without its encodings dropped (they are, by merges and erasures: this
    # one is left behind on purpose): its profile is still read, its status keeps it out.
    Subject.objects.filter(pk=stale.pk).update(status=Subject.Status.MERGED)
    kept = make_subject(region="GB", email="ines@example.net", **attributes)
    assert MatchProfile.objects.filter(subject=stale).exists()

    [contest] = match_contests_batch([encode(attributes)], [None])

    assert [(s.candidate.pk, s.candidate.region) for s in contest.scored] == [(kept.pk, "GB")]
    assert contest.scored[0].auto_merge
    [named] = match_contests_batch([encode(attributes)], [kept.pk])
    assert named.scored == []  # the subject its identities name is not its own candidate


@pytest.mark.django_db
def test_an_officers_decision_changes_the_learned_weights():
    make_match_population()
    _, review = make_review_pair()
    before = match_model_estimate(actor=SYSTEM)
    match_review_decide(review=review, accept=False, actor=SYSTEM)
    after = match_model_estimate(actor=SYSTEM)
    assert after.version == before.version + 1
    assert after.evaluation["labelled"] == 1
    weight = model.Parameters.from_json
    vector = review.levels
    assert weight(after.parameters).weight(vector) < weight(before.parameters).weight(vector)


@pytest.mark.django_db
def test_pending_reviews_are_rescored_when_the_model_changes():
    older, review = make_review_pair()
    assert review.model_version == 0
    params = model.Parameters.from_json(
        model.Parameters.prior(target_precision=0.995, review_floor=0.05).as_json()
    )
    params.auto_merge = review.weight - 1  # a model sure enough of this pair to merge it
    MatchModel.objects.create(version=1, parameters=params.as_json())
    counts = match_reviews_rescore(actor=SYSTEM)
    assert counts == {"rescored": 1, "merged": 1, "dismissed": 0}
    review.refresh_from_db()
    assert review.status == MatchReview.Status.ACCEPTED
    assert review.model_version == 1
    lineage = MergeLineage.objects.get(survivor=older)
    assert lineage.model_version == 1
    assert lineage.method == "probabilistic"


@pytest.mark.django_db
def test_a_review_the_new_model_finds_unlikely_leaves_the_queue():
    _, review = make_review_pair()
    params = model.Parameters.prior(target_precision=0.995, review_floor=0.05)
    params.review = review.weight + 1
    MatchModel.objects.create(version=1, parameters=params.as_json())
    assert match_reviews_rescore(actor=SYSTEM)["dismissed"] == 1
    review.refresh_from_db()
    assert review.status == MatchReview.Status.REJECTED
    assert review.decided_by == "model v1"


def _duplicated_population(n: int) -> None:
    """n people, each written twice under two e-mails: the built-in model merges the pairs,
    so the population a later estimation sees is mostly merged duplicates."""
    firsts = ["Mia", "Leo", "Zoe", "Noah", "Ivy", "Ada", "Eli", "Uma"]
    for i in range(n):
        person = {
            "first_name": firsts[i % len(firsts)],
            "last_name": ["Silva", "Costa", "Sousa", "Lopes", "Pinto", "Rocha"][i % 6],
            "birth_date": f"19{40 + i % 50}-0{1 + i % 9}-{10 + i % 18}",
            "postcode": f"{1000 + i % 7}",
            "city": ["Porto", "Braga", "Faro"][i % 3],
        }
        make_subject(email=f"dup{i}a@example.com", **person)
        _upsert(f"dup{i}b@example.com", **person)


@pytest.mark.django_db
def test_a_model_learned_on_merged_duplicates_does_not_over_merge_a_fresh_population():
    _duplicated_population(100)
    assert MergeLineage.objects.count() >= 90  # what the estimation sees: mostly merged
    learned = match_model_estimate(actor=SYSTEM)
    params = model.Parameters.from_json(learned.parameters)
    # The prior is that of a record and one existing subject, not the pool's share of matches.
    assert params.lam < 0.05
    assert learned.evaluation["pool_lambda"] > 0.5
    Subject.objects.all().delete()  # a fresh database, scored by the learned model
    MergeLineage.objects.all().delete()
    kin = {"last_name": "Silva", "postcode": "1000", "city": "Porto"}
    first = make_subject(email="s1@example.com", first_name="Ada", birth_date="1950-02-11", **kin)
    sibling = _upsert("s2@example.com", first_name="Leo", birth_date="1957-09-23", **kin)
    assert sibling.subject_id != first.pk  # same family and place, another person
    father = make_subject(email="s3@example.com", first_name="John", birth_date="1931-04-27", **kin)
    son = _upsert("s4@example.com", first_name="Jon", birth_date="1966-12-01", **kin)
    # A name that sounds the same, same family and place, born decades apart: a model whose
    # prior is the pool's share of matches (0.45 here) merged them; this one asks an officer.
    assert son.subject_id != father.pk
    assert son.review_items >= 1
    assert not MergeLineage.objects.exists()
    same = _upsert("s5@example.com", first_name="Ada", birth_date="1950-11-02", **kin)
    assert same.subject_id == first.pk  # the same person (day/month transposed) still merges


@pytest.mark.django_db
def test_a_wrong_merge_is_split_back_with_lineage():
    older = make_subject(
        email="w1@example.com",
        name="Sam Lee",
        birth_date="1990-05-05",
        postcode="1000",
        city="Lisbon",
    )
    result = _upsert(
        "w2@example.com",
        name="Sam Lee",
        birth_date="1990-05-05",
        postcode="1000",
        phone_model="x1",
    )
    assert result.subject_id == older.pk
    lineage = MergeLineage.objects.get(survivor=older)
    restored = subject_split(lineage=lineage, actor=SYSTEM, reason="twins")
    assert restored.pk == lineage.merged_subject_id
    restored = Subject.objects.get(pk=restored.pk)
    assert restored.status == Subject.Status.ACTIVE
    assert restored.merged_into_id is None
    email = Identifier.objects.get(subject=restored)
    email.subject = restored
    assert email.value == "w2@example.com"  # readable under the restored subject's new key
    kept = Identifier.objects.get(subject=older)
    kept.subject = older
    assert kept.value == "w1@example.com"
    assert restored.attributes.filter(key="phone_model").exists()
    lineage.refresh_from_db()
    assert lineage.split_at is not None
    assert lineage.split_into == restored.pk
    label = MatchReview.objects.get(subject=restored, candidate=older)
    assert label.status == MatchReview.Status.REJECTED  # a labelled non-match for the model
    assert MatchProfile.objects.filter(subject=restored).exists()


ATTRIBUTES = {
    "first_name": "Marguerite",
    "last_name": "Yourcenar",
    "birth_date": "1903-06-08",
    "postcode": "75006",
    "address": "12 rue de vaugirard",
    "city": "paris",
}


def test_encodings_contain_no_plaintext():
    """No encoding carries a value: every leaf and blocking key is a keyed hash (hex). A part
    with letters outside hex cannot hide in one, so it must be absent from the whole text; a
    hex-looking part (a year, a postcode) turns up inside some digest by chance (any four given
    digits do, in about 3% of runs with fresh keys), so it must only never be a leaf, nor
    start one (a truncated value)."""
    encoded = encode(ATTRIBUTES)
    text = (json.dumps(encoded.fields) + " " + " ".join(encoded.blocks)).lower()
    leaves = [code for codes in encoded.fields.values() for code in codes.values()]
    hexdigits = set("0123456789abcdef")
    assert all(set(code) <= hexdigits for code in leaves + encoded.blocks)  # keyed hashes only
    for value in ATTRIBUTES.values():
        for part in value.lower().replace("-", " ").split():
            if len(part) < 3:
                continue
            if set(part) <= hexdigits:
                assert not any(code.startswith(part) for code in leaves + encoded.blocks)
            else:
                assert part not in text


def test_the_same_value_under_another_key_gives_unrelated_encodings(settings):
    first = encode(ATTRIBUTES)
    settings.CUSTODIA_BLIND_INDEX_KEY = base64.b64encode(os.urandom(32)).decode()
    second = encode(ATTRIBUTES)
    assert not set(first.blocks) & set(second.blocks)
    for name, codes in first.fields.items():
        for kind, code in codes.items():
            assert code != second.fields[name][kind]
            if kind == "bf":  # Bloom filters of the same name share no more bits than chance
                assert model.dice(code, second.fields[name][kind]) < 0.7


@pytest.mark.django_db
def test_rotate_keys_reencodes_match_profiles_under_a_new_blind_index_key(settings):
    from django.core.management import call_command

    subject = make_subject(email="k1@example.com", name="Rui Sol", birth_date="1999-09-09")
    before = MatchProfile.objects.get(subject=subject).encodings
    settings.CUSTODIA_BLIND_INDEX_KEY = base64.b64encode(os.urandom(32)).decode()
    call_command("rotate_keys", "--reencode-matching", stdout=io.StringIO())
    after = MatchProfile.objects.get(subject=subject).encodings
    assert after["last_name"]["x"] != before["last_name"]["x"]
    assert after == encode({"name": "Rui Sol", "birth_date": "1999-09-09"}).fields


@pytest.mark.django_db
def test_the_review_screen_shows_why_the_pair_matched(client):
    from access.services import sync_roles
    from tests.factories import make_staff

    sync_roles()
    _, review = make_review_pair()
    client.force_login(make_staff("DPO"))
    page = client.get(f"/admin/profiles/matchreview/{review.pk}/change/").content.decode()
    assert "comparison level" in page
    # "Anna" vs "Ana": a Bloom-filter similarity level (0.89 of bigrams shared; which band it
    # lands in depends on the installation's key, through bit collisions) or phonetic equality
    assert "bloom dice &gt;= 0." in page or "phonetic equal" in page
    assert "two of year, month, day equal" in page  # 1970-07-07 vs 1970-07-08


@pytest.mark.django_db
def test_an_officer_reestimates_the_model_from_the_admin(client):
    from access.services import sync_roles
    from tests.factories import make_staff

    sync_roles()
    make_match_population()
    make_review_pair()
    client.force_login(make_staff("DPO"))
    response = client.post("/admin/profiles/matchmodel/re-estimate/")
    assert response.status_code == 302
    assert MatchModel.objects.get().version == 1
    page = client.get("/admin/profiles/matchmodel/").content.decode()
    assert "Re-estimate now" in page


@pytest.mark.django_db
def test_erasing_people_in_a_batch_forgets_their_matching_encodings():
    """The keyed encodings are personal data too (they link a person's records): a batch
    erasure (the DSAR pipeline's path) drops them with the attributes they came from."""
    from profiles.models import MatchBlock
    from profiles.services import subjects_erase

    erased = _upsert("gone@example.com", name="Maria Gonzalez", birth_date="1980-04-02")
    kept = _upsert("kept@example.com", name="Peter Novak", birth_date="1975-01-09")
    assert MatchBlock.objects.filter(subject_id=erased.subject_id).exists()

    subjects_erase(reasons={erased.subject_id: "test"}, actor=SYSTEM)

    assert not MatchProfile.objects.filter(subject_id=erased.subject_id).exists()
    assert not MatchBlock.objects.filter(subject_id=erased.subject_id).exists()
    assert MatchProfile.objects.filter(subject_id=kept.subject_id).exists()


@pytest.mark.django_db
def test_too_little_data_to_estimate_is_said_and_keeps_the_current_model(client):
    """A fresh installation (no pair to compare): the officer is told why, nothing is stored
    (no model of NaN weights), and the nightly task keeps the current version."""
    from access.services import sync_roles
    from profiles import tasks
    from profiles.services import ModelNotEstimable
    from tests.factories import make_staff

    sync_roles()
    make_subject(email="alone@example.com", name="Ana Silva")
    client.force_login(make_staff("DPO"))
    response = client.post("/admin/profiles/matchmodel/re-estimate/", follow=True)
    assert response.status_code == 200
    assert "Not enough data to estimate a model" in response.content.decode()
    assert "active subject" not in response.content.decode()  # every region's count: not shown
    assert not MatchModel.objects.exists()
    with pytest.raises(ModelNotEstimable) as refused:
        match_model_estimate(actor=SYSTEM)
    assert refused.value.code == "not_enough_data"
    assert tasks.match_model_estimate() == match_model_current()[0]
    assert not MatchModel.objects.exists()
