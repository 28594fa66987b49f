"""Round trips against the IAB's own JavaScript library, @iabgpp/cmpapi: strings it encodes
with random field values decode to the same fields here, and strings encoded here with random
values decode to the same fields there, for every section this hub supports."""

import datetime as dt
import random

import pytest

from consent.gpp import decode_gpp_string, encode_gpp_string
from consent.gpp.us import US_SECTIONS, Int
from tests.consent.gpp_oracle import IABOracle

SEEDS = (1, 2, 3)
SECTIONS = ["tcfeuv2", *sorted(US_SECTIONS)]


@pytest.fixture(scope="module")
def iab():
    oracle = IABOracle()
    yield oracle
    oracle.close()


def _flat(name: str, segments: list[dict]) -> dict:
    """The section as the library's getFieldValue shows it: core fields, then the GPC
    subsection as GpcSegmentIncluded and Gpc."""
    fields = dict(segments[0])
    spec = US_SECTIONS.get(name)
    if spec and spec.gpc:
        fields["GpcSegmentIncluded"] = len(segments) > 1
        fields["Gpc"] = len(segments) > 1 and segments[1]["Gpc"]
    if spec and spec.sensitive_segment:
        fields["SensitiveDataConsentSegmentIncluded"] = len(segments) > 1
        fields["SensitiveDataProcessing"] = (
            segments[1]["SensitiveDataProcessing"] if len(segments) > 1 else [0] * 8
        )
    return fields


def _comparable(fields: dict) -> dict:
    out = dict(fields)
    for key in ("Created", "LastUpdated"):
        if key in out:
            out[key] = dt.datetime.fromisoformat(out[key].replace("Z", "+00:00"))
    return out


def _random_us(name: str, rnd: random.Random, version: int) -> list[dict]:
    spec = US_SECTIONS[name]
    core: dict = {spec.version_field: version}
    for field in spec.layouts[version]:
        if isinstance(field, Int):
            core[field.name] = rnd.choice(field.allowed)
        else:
            core[field.name] = [rnd.randrange(3) for _ in range(field.count)]
    if spec.gpc and rnd.random() < 0.7:
        return [core, {"SubsectionType": 1, "Gpc": rnd.random() < 0.5}]
    if spec.sensitive_segment and rnd.random() < 0.7:
        return [core, {"SensitiveDataProcessing": [rnd.randrange(3) for _ in range(8)]}]
    return [core]


def _random_tcf(rnd: random.Random) -> list[dict]:
    created = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=rnd.randrange(10**8), milliseconds=100 * rnd.randrange(10)
    )
    # TCF 2.2: purposes 1 and 3-6 cannot rest on legitimate interest (the library clears them)
    li = [rnd.random() < 0.5 and i not in (0, 2, 3, 4, 5) for i in range(24)]

    def ids():
        return sorted({rnd.randrange(1, 2500) for _ in range(rnd.randrange(0, 25))})

    return [
        {
            "Version": 2,
            "Created": created.isoformat(),
            "LastUpdated": created.isoformat(),
            "CmpId": rnd.randrange(4096),
            "CmpVersion": rnd.randrange(4096),
            "ConsentScreen": rnd.randrange(64),
            "ConsentLanguage": rnd.choice(["EN", "FR", "DE", "PT"]),
            "VendorListVersion": rnd.randrange(4096),
            "PolicyVersion": rnd.randrange(64),
            "IsServiceSpecific": True,
            "UseNonStandardStacks": rnd.random() < 0.5,
            "SpecialFeatureOptins": [rnd.random() < 0.5 for _ in range(12)],
            "PurposeConsents": [rnd.random() < 0.5 for _ in range(24)],
            "PurposeLegitimateInterests": li,
            "PurposeOneTreatment": rnd.random() < 0.5,
            "PublisherCountryCode": rnd.choice(["DE", "FR", "AA"]),
            "VendorConsents": ids(),
            "VendorLegitimateInterests": ids(),
            "PublisherRestrictions": [],
        }
    ]


def test_strings_the_iab_library_encodes_decode_to_the_same_fields_here(iab):
    answers = iab.batch(
        [{"op": "random", "section": name, "seed": seed} for name in SECTIONS for seed in SEEDS]
    )
    for answer, (name, seed) in zip(
        answers, [(n, s) for n in SECTIONS for s in SEEDS], strict=True
    ):
        assert "error" not in answer, (name, answer)
        ours = decode_gpp_string(answer["string"]).sections[name]
        assert _comparable(_flat(name, ours)) == _comparable(answer["fields"]), (name, seed)


def test_usnat_version_1_strings_of_the_iab_library_decode_to_the_same_fields_here(iab):
    answers = iab.batch(
        [{"op": "random", "section": "usnat", "seed": seed, "version": 1} for seed in SEEDS]
    )
    for answer in answers:
        ours = decode_gpp_string(answer["string"]).sections["usnat"]
        assert ours[0]["Version"] == 1
        assert len(ours[0]["SensitiveDataProcessing"]) == 12
        assert _flat("usnat", ours) == answer["fields"]


def test_strings_encoded_here_decode_to_the_same_fields_in_the_iab_library(iab):
    cases = []
    for name in SECTIONS:
        for seed in SEEDS:
            rnd = random.Random(f"{name}-{seed}")
            if name == "tcfeuv2":
                cases.append((name, _random_tcf(rnd)))
            else:
                for version in US_SECTIONS[name].layouts:
                    cases.append((name, _random_us(name, rnd, version)))
    strings = [encode_gpp_string({name: segments}) for name, segments in cases]
    answers = iab.batch([{"op": "decode", "string": s} for s in strings])
    for (name, segments), answer, string in zip(cases, answers, strings, strict=True):
        assert "error" not in answer, (name, string, answer)
        assert _comparable(answer["sections"][name]) == _comparable(_flat(name, segments)), (
            name,
            string,
        )


def test_a_string_of_several_sections_reads_the_same_both_ways(iab):
    rnd = random.Random(7)
    sections = {
        "tcfeuv2": _random_tcf(rnd),
        "usnat": _random_us("usnat", rnd, 2),
        "usca": _random_us("usca", rnd, 1),
        "ustx": _random_us("ustx", rnd, 1),
    }
    ours = encode_gpp_string(sections)
    [theirs] = iab.batch([{"op": "decode", "string": ours}])
    assert set(theirs["sections"]) == set(sections)
    [encoded] = iab.batch(
        [{"op": "encode", "sections": {k: _flat(k, v) for k, v in sections.items()}}]
    )
    back = decode_gpp_string(encoded["string"])
    for name, segments in sections.items():
        assert _comparable(_flat(name, back.sections[name])) == _comparable(
            _flat(name, segments)
        ), name
