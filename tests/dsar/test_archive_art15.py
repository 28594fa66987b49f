"""The access archive as a full answer to Art. 15 (and the CCPA right to know): built for a
seeded subject with consent given to some purposes and refused to others, and values from two
sources. (The pipeline and the download link are in test_pipeline.py and test_archive_delivery.py.)"""

import datetime as dt
import io
import json
import zipfile

import pytest

from access import roles
from access.services import api_token_create
from audit.actors import Actor
from consent.models import ProcessingActivity, Purpose
from consent.services import consent_record
from dsar import archive as archives
from dsar import services
from profiles.models import Subject, System
from profiles.selectors import subject_profile
from profiles.services import subject_upsert
from tests.factories import make_staff

SYSTEM = Actor.system("tests")


@pytest.fixture(autouse=True)
def _controller(settings):
    settings.CUSTODIA_CONTROLLER_NAME = "Boutique Exemple SARL"
    settings.CUSTODIA_CONTROLLER_ADDRESS = "2 place du Test, 69001 Lyon, France"
    settings.CUSTODIA_CONTROLLER_CONTACT = "privacy@boutique.example"
    settings.CUSTODIA_DPO_NAME = "Camille Martin"
    settings.CUSTODIA_DPO_CONTACT = "dpo@boutique.example"
    settings.CUSTODIA_PRIVACY_CENTER_URL = "https://boutique.example/privacy"
    settings.CUSTODIA_EU_LEAD_AUTHORITY = "CNIL"
    settings.CUSTODIA_EU_LEAD_AUTHORITY_URL = "https://www.cnil.fr/"
    settings.CUSTODIA_AUTOMATED_DECISIONS = ""


def _purpose(slug: str) -> Purpose:
    return Purpose.objects.get(slug=slug)


def _seed_person(*, region: str = "EU", language: str = "") -> Subject:
    """A customer known to the CRM (e-mail, name) and the web shop (phone, an event), with
    analytics granted, marketing e-mails refused and personalisation withdrawn."""
    crm = System.objects.create(name="CRM")
    shop = System.objects.create(name="Web shop")
    first = subject_upsert(
        record={
            "region": region,
            "identifiers": [{"kind": "email", "value": "lea@example.com"}],
            "attributes": {"name": "Léa Dupont", **({"language": language} if language else {})},
        },
        actor=SYSTEM,
        source=crm,
    )
    subject_upsert(
        record={
            "region": region,
            "identifiers": [
                {"kind": "email", "value": "lea@example.com"},
                {"kind": "phone", "value": "+33612345678"},
            ],
            "events": [{"name": "purchase", "payload": {"sku": "SKU-1"}}],
        },
        actor=SYSTEM,
        source=shop,
    )
    subject = Subject.objects.get(pk=first.subject_id)
    newsletter = ProcessingActivity.objects.create(
        name="Newsletter",
        purpose=_purpose("marketing_email"),
        lawful_basis="consent",
        data_categories=["contact"],
        recipients=["e-mail service provider (processor)"],
        transfers=[{"country": "US", "safeguard": "sccs"}],
        retention="until you withdraw consent",
    )
    newsletter.systems.set([crm])
    ProcessingActivity.objects.create(
        name="Web analytics",
        purpose=_purpose("analytics"),
        data_categories=["behavioral"],
        recipients=["web analytics provider (processor)"],
        retention="24 months",
    )
    ProcessingActivity.objects.create(
        name="Fraud prevention",
        purpose=_purpose("essential"),
        lawful_basis="legitimate_interests",
        data_categories=["behavioral"],
        recipients=["payment provider"],
        retention="13 months",
    )
    for slug, state in [
        ("analytics", "granted"),
        ("marketing_email", "denied"),
        ("personalization", "granted"),
        ("personalization", "withdrawn"),
    ]:
        consent_record(
            purpose=_purpose(slug), state=state, channel="api", actor=SYSTEM, subject=subject
        )
    return subject


def _archive(subject: Subject, *, details=None) -> tuple[dict, zipfile.ZipFile]:
    dsr, _ = services.request_create(
        kind="access",
        channel="admin",
        actor=SYSTEM,
        subject=subject,
        details=details,
        verification="officer",
    )
    dsr.refresh_from_db()
    data = archives.collect(dsr)
    files = zipfile.ZipFile(io.BytesIO(archives.package(data)))
    return json.loads(files.read("data.json")), files


def test_each_purpose_says_whether_it_applies_to_the_person_and_on_which_basis():
    data, files = _archive(_seed_person())
    purposes = {p["purpose"]: p for p in data["purposes"]}

    analytics = purposes["analytics"]
    assert analytics["applies"] is True
    assert analytics["basis"] == "consent"
    assert analytics["consent"]["state"] == "granted"
    assert dt.datetime.fromisoformat(analytics["consent"]["recorded_at"])
    assert purposes["marketing_email"]["applies"] is False  # refused
    assert purposes["marketing_email"]["consent"]["state"] == "denied"
    assert purposes["marketing_email"]["basis"] == ""
    assert purposes["personalization"]["applies"] is False  # withdrawn
    assert purposes["personalization"]["reason"] == "withdrawn"
    assert purposes["essential"]["applies"] is True
    assert purposes["essential"]["basis"] == "legitimate_interests"
    rows = files.read("purposes.csv").decode()
    assert "Marketing e-mails,no," in rows
    assert "Analytics,yes,consent,granted" in rows
    readme = files.read("README.txt").decode()
    assert "Marketing e-mails: does NOT apply to you: you refused on" in readme
    assert "Analytics: applies to you, because you gave your consent on" in readme


def test_recipients_transfers_and_retention_are_those_of_the_purposes_that_apply():
    data, _ = _archive(_seed_person())
    # The newsletter was refused: its e-mail provider and US transfer are not the person's.
    assert data["recipients"] == ["payment provider", "web analytics provider (processor)"]
    assert data["transfers"] == []
    assert {r["activity"]: r["retention"] for r in data["retention"]} == {
        "Fraud prevention": "13 months",
        "Web analytics": "24 months",
    }
    refused = next(p for p in data["purposes"] if p["purpose"] == "marketing_email")
    assert refused["activities"][0]["transfers"][0]["safeguard_text"].startswith(
        "Standard contractual clauses"
    )


def test_every_value_names_its_source_and_the_sources_are_listed():
    data, files = _archive(_seed_person())
    identifiers = {i["kind"]: i["source"] for i in data["identifiers"]}
    assert identifiers == {"email": "CRM", "phone": "Web shop"}
    assert {a["key"]: a["source"] for a in data["attributes"]} == {"name": "CRM"}
    assert [e["source"] for e in data["events"]] == ["Web shop"]
    assert data["sources"] == ["CRM", "Web shop"]
    assert ",CRM," in files.read("profile.csv").decode()


def test_a_value_sent_without_a_source_system_names_the_integration_that_sent_it():
    subject = _seed_person()
    service = make_staff(roles.SERVICE_ACCOUNT, is_staff=False)
    token, _ = api_token_create(
        user=service, name="Loyalty app", scopes=["profiles:write"], all_regions=True, actor=SYSTEM
    )
    subject_upsert(
        record={
            "region": "EU",
            "identifiers": [{"kind": "email", "value": "lea@example.com"}],
            "attributes": {"loyalty_tier": "gold"},
        },
        actor=Actor(kind="token", id=str(token.pk), label=token.token_prefix, regions=None),
    )
    data, files = _archive(subject)
    tier = next(a for a in data["attributes"] if a["key"] == "loyalty_tier")
    assert tier["source"] == "the Loyalty app integration"
    assert "the Loyalty app integration" in data["sources"]
    assert token.token_prefix not in json.dumps(data)
    assert token.token_prefix not in files.read("access_history.csv").decode()


def test_the_access_log_says_who_in_plain_words_without_usernames_or_token_prefixes():
    subject = _seed_person()
    agent = make_staff(roles.SUPPORT_AGENT, regions=["EU"])
    subject_profile(who=agent, subject=subject, actor=Actor.for_user(agent))
    dpo = make_staff(roles.DPO)
    subject_profile(who=dpo, subject=subject, actor=Actor.for_user(dpo))
    data, files = _archive(subject)
    log = data["access_history"]
    reads = [e for e in log if e["action"] == "profiles.subject.read"]
    assert [e["who"] for e in reads] == [
        "a support agent of the EU team",
        "the privacy office (data protection officer)",
    ]
    assert all(e["what"] == "looked at your profile" for e in reads)
    csv_text = files.read("access_history.csv").decode()
    for secret in (agent.username, dpo.username):
        assert secret not in csv_text
        assert secret not in json.dumps(data)
    assert "a support agent of the EU team,looked at your profile" in csv_text


def test_controller_dpo_rights_and_automated_decisions_are_stated():
    data, files = _archive(_seed_person())
    assert data["controller"] == {
        "name": "Boutique Exemple SARL",
        "address": "2 place du Test, 69001 Lyon, France",
        "contact": "privacy@boutique.example",
    }
    assert data["dpo"] == {"name": "Camille Martin", "contact": "dpo@boutique.example"}
    rights = {r["right"]: r for r in data["rights"]}
    for right, reference in [
        ("rectification", "Art. 16"),
        ("erasure", "Art. 17"),
        ("restriction", "Art. 18"),
        ("objection", "Art. 21"),
        ("portability", "Art. 20"),
        ("withdraw_consent", "Art. 7(3)"),
        ("complain", "Art. 77"),
    ]:
        assert rights[right]["reference"] == reference
        assert rights[right]["url"] == "https://boutique.example/privacy"
    assert "https://boutique.example/privacy" in rights["erasure"]["how"]
    assert "opt_out_of_sale" not in rights  # a US-state right, not a GDPR one
    statement = data["automated_decisions"]["statement"]
    assert "no decision based solely on automated processing" in statement
    assert data["automated_decisions"]["profiling_for"] == []  # personalisation withdrawn
    readme = files.read("README.txt").decode()
    assert "Boutique Exemple SARL, 2 place du Test" in readme
    assert "Camille Martin, dpo@boutique.example" in readme
    assert "Have wrong data corrected (Art. 16)" in readme


def test_profiling_for_marketing_is_named_when_a_purpose_of_the_person_does_it():
    subject = _seed_person()
    consent_record(
        purpose=_purpose("personalization"),
        state="granted",
        channel="api",
        actor=SYSTEM,
        subject=subject,
    )
    data, _ = _archive(subject)
    assert data["automated_decisions"]["profiling_for"] == ["Personalisation"]
    assert "profiling for marketing" in data["automated_decisions"]["statement"]


@pytest.mark.parametrize(
    ("region", "authority"),
    [
        ("EU", "CNIL"),
        ("GB", "Information Commissioner's Office (ICO)"),
        ("US-CA", "California Privacy Protection Agency"),
        ("US-VA", "Attorney General of Virginia (Consumer Protection Section)"),
        ("US-CO", "Attorney General of Colorado"),
        ("BR", "Autoridade Nacional de Proteção de Dados (ANPD)"),
        ("CA", "Office of the Privacy Commissioner of Canada"),
    ],
)
def test_the_supervisory_authority_is_the_one_of_the_persons_jurisdiction(region, authority):
    data, files = _archive(_seed_person(region=region))
    assert data["supervisory_authorities"][0]["name"] == authority
    assert data["supervisory_authorities"][0]["url"].startswith("https://")
    assert authority in files.read("README.txt").decode()


def test_an_eu_person_may_also_complain_to_their_own_authority_listed_by_the_edpb(settings):
    settings.CUSTODIA_EU_LEAD_AUTHORITY = ""
    data, _ = _archive(_seed_person())
    assert [a["url"] for a in data["supervisory_authorities"]] == [
        "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"
    ]


def test_a_californian_is_told_of_the_right_to_opt_out_of_sale():
    data, _ = _archive(_seed_person(region="US-CA"))
    rights = {r["right"]: r for r in data["rights"]}
    assert rights["opt_out_of_sale"]["reference"] == "§1798.120"
    assert rights["opt_out_of_sale"]["request_kind"] == "opt_out"


def test_the_readme_is_in_the_persons_language():
    data, files = _archive(_seed_person(language="fr-FR"))
    assert data["language"] == "fr"
    readme = files.read("README.txt").decode()
    assert readme.startswith("VOS DONNÉES PERSONNELLES")
    assert "Marketing e-mails : ne vous concerne PAS : vous avez refusé le" in readme
    assert "Faire corriger des données inexactes (Art. 16)" in readme
    assert "CNIL : https://www.cnil.fr/" in readme


def test_the_request_language_wins_and_brazil_defaults_to_portuguese():
    subject = _seed_person(region="BR", language="fr")
    data, _ = _archive(subject, details={"language": "en"})
    assert data["language"] == "en"
    other = Subject.objects.create(region="BR")
    data, files = _archive(other)
    assert data["language"] == "pt"
    assert files.read("README.txt").decode().startswith("SEUS DADOS PESSOAIS")


def test_an_unknown_language_falls_back_to_english():
    data, files = _archive(_seed_person(language="de"))
    assert data["language"] == "en"
    assert files.read("README.txt").decode().startswith("YOUR PERSONAL DATA")
