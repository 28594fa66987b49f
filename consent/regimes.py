"""The regimes Custodia ships with (../shared/REGULATIONS.md), seeded by a data migration and
kept in sync by `consent.demo.seed`. Operators may edit them in the admin."""

import datetime as dt
from typing import Any

from django.conf import settings

ALL_OPT_OUTS = ["sale", "targeted_advertising", "profiling"]
US_FALLBACK = "US"


def _us_state(
    code: str,
    name: str,
    region: str,
    statute: str,
    effective: dt.date,
    *,
    gpc_from: dt.date | None = None,
    opt_outs: list[str] | None = None,
    sensitive_opt_in: bool = True,
    deadline: int = 45,
    extension: int = 45,
    gpc_overridable: bool = False,
    notes: str = "",
) -> dict[str, Any]:
    """A US comprehensive state privacy law: an opt-out regime from its effective date (the
    federal-only fallback before it), universal opt-out signals honoured from `gpc_from`."""
    return {
        "code": code,
        "name": name,
        "regions": [region],
        "statute": statute,
        "effective_date": effective,
        "fallback": US_FALLBACK,
        "consent_model": "opt_out",
        "opt_out_rights": list(opt_outs or ALL_OPT_OUTS),
        "sensitive_opt_in": sensitive_opt_in,
        "honours_gpc": gpc_from is not None,
        "gpc_required_from": gpc_from,
        "gpc_overridable": gpc_overridable,
        "dsar_deadline_days": deadline,
        "dsar_extension_days": extension,
        "notes": notes,
    }


D = dt.date
# The nineteen US state comprehensive privacy laws (docs/compliance.md cites each). Sensitive
# data: opt-in consent except California (a right to limit), Utah and Iowa (notice and opt-out);
# the decision engine asks consent for purposes flagged sensitive everywhere, the safe side.
US_STATES = [
    _us_state(
        "CCPA",
        "CCPA/CPRA (California)",
        "US-CA",
        "Cal. Civ. Code §1798.100 et seq.; 11 CCR §7000 et seq.",
        D(2020, 1, 1),
        gpc_from=D(2020, 8, 14),
        opt_outs=["sale", "targeted_advertising"],
        sensitive_opt_in=False,
        notes="11 CCR §7021: 45 days, +45 (90 max) with notice; confirm receipt within 10 "
        "business days; opt-outs within 15 business days; GPC honoured (§7025, §7026, first in "
        "11 CCR §999.315(c) from 2020-08-14); opt-in for sale of under-16s' data; sensitive "
        "data: a right to limit its use (§1798.121), not opt-in.",
    ),
    _us_state(
        "VCDPA",
        "Virginia CDPA",
        "US-VA",
        "Va. Code §59.1-575 et seq.",
        D(2023, 1, 1),
        notes="§59.1-577: opt-out of targeted ads, sale, profiling; opt-in for sensitive data; "
        "45 days +45 once with notice; GPC not required.",
    ),
    _us_state(
        "CPA",
        "Colorado Privacy Act",
        "US-CO",
        "C.R.S. §6-1-1301 et seq.; 4 CCR 904-3",
        D(2023, 7, 1),
        gpc_from=D(2024, 7, 1),
        gpc_overridable=True,
        notes="Universal opt-out signal mandatory since 2024-07-01 (§6-1-1306(1)(a)(IV)); an "
        "explicit opt-in may override it, revocable as easily.",
    ),
    _us_state(
        "CTDPA",
        "Connecticut DPA",
        "US-CT",
        "Conn. Gen. Stat. §42-515 et seq.",
        D(2023, 7, 1),
        gpc_from=D(2025, 1, 1),
        gpc_overridable=True,
        notes="Universal opt-out signal mandatory since 2025-01-01 (§42-520(a)(6)); an explicit "
        "opt-in may override it.",
    ),
    _us_state(
        "UCPA",
        "Utah Consumer Privacy Act",
        "US-UT",
        "Utah Code §13-61-101 et seq.",
        D(2023, 12, 31),
        opt_outs=["sale", "targeted_advertising"],
        sensitive_opt_in=False,
        notes="No profiling opt-out; sensitive data: notice and a chance to opt out "
        "(§13-61-302(3)); GPC not required; 45 days +45.",
    ),
    _us_state(
        "TDPSA",
        "Texas Data Privacy and Security Act",
        "US-TX",
        "Tex. Bus. & Com. Code ch. 541",
        D(2024, 7, 1),
        gpc_from=D(2025, 1, 1),
        notes="§541.055(e): an opt-out sent through a universal signal (browser setting) must "
        "be honoured from 2025-01-01; opt-in for sensitive data (§541.101(b)(4)); 45 days +45.",
    ),
    _us_state(
        "OCPA",
        "Oregon Consumer Privacy Act",
        "US-OR",
        "ORS 646A.570 to 646A.589",
        D(2024, 7, 1),
        gpc_from=D(2026, 1, 1),
        notes="Universal opt-out mechanism honoured from 2026-01-01 (ORS 646A.574(1)(d)); "
        "45 days +45.",
    ),
    _us_state(
        "MTCDPA",
        "Montana Consumer Data Privacy Act",
        "US-MT",
        "Mont. Code Ann. §30-14-2801 et seq.",
        D(2024, 10, 1),
        gpc_from=D(2025, 1, 1),
        notes="Opt-out preference signals honoured from 2025-01-01 (§30-14-2808); 45 days +45.",
    ),
    _us_state(
        "ICDPA",
        "Iowa Consumer Data Protection Act",
        "US-IA",
        "Iowa Code ch. 715D",
        D(2025, 1, 1),
        opt_outs=["sale", "targeted_advertising"],
        sensitive_opt_in=False,
        deadline=90,
        notes="§715D.3: 90 days, +45 with notice; no profiling opt-out; sensitive data: notice "
        "and a chance to opt out; GPC not required.",
    ),
    _us_state(
        "DPDPA",
        "Delaware Personal Data Privacy Act",
        "US-DE",
        "Del. Code tit. 6, ch. 12D",
        D(2025, 1, 1),
        gpc_from=D(2026, 1, 1),
        notes="Universal opt-out mechanism honoured from 2026-01-01 (§12D-104(a)(6)); 45 days +45.",
    ),
    _us_state(
        "NHPA",
        "New Hampshire privacy act",
        "US-NH",
        "N.H. Rev. Stat. ch. 507-H",
        D(2025, 1, 1),
        gpc_from=D(2025, 1, 1),
        notes="Opt-out preference signals honoured from the start (RSA 507-H:6); 45 days +45.",
    ),
    _us_state(
        "NJDPA",
        "New Jersey Data Privacy Act",
        "US-NJ",
        "N.J.S.A. 56:8-166.4 et seq.",
        D(2025, 1, 15),
        gpc_from=D(2025, 7, 15),
        notes="Universal opt-out mechanism honoured six months after the effective date "
        "(56:8-166.11); 45 days +45.",
    ),
    _us_state(
        "NEDPA",
        "Nebraska Data Privacy Act",
        "US-NE",
        "Neb. Rev. Stat. §87-1101 et seq.",
        D(2025, 1, 1),
        gpc_from=D(2025, 1, 1),
        notes="Modelled on Texas: an opt-out sent through a universal signal (authorised agent "
        "technology) must be honoured; 45 days +45.",
    ),
    _us_state(
        "TIPA",
        "Tennessee Information Protection Act",
        "US-TN",
        "Tenn. Code Ann. §47-18-3201 et seq.",
        D(2025, 7, 1),
        notes="GPC not required; 45 days +45; an NIST privacy framework is an affirmative defence.",
    ),
    _us_state(
        "MNCDPA",
        "Minnesota Consumer Data Privacy Act",
        "US-MN",
        "Minn. Stat. §325M.10 et seq.",
        D(2025, 7, 31),
        gpc_from=D(2025, 7, 31),
        notes="Universal opt-out mechanism honoured from the start (§325M.14); profiling "
        "decisions may be questioned; 45 days +45.",
    ),
    _us_state(
        "MODPA",
        "Maryland Online Data Privacy Act",
        "US-MD",
        "Md. Code, Com. Law §14-4701 et seq.",
        D(2025, 10, 1),
        gpc_from=D(2025, 10, 1),
        notes="Applies to processing from 2026-04-01; sensitive data only when strictly "
        "necessary and never sold (§14-4707); universal opt-out honoured; 45 days +45.",
    ),
    _us_state(
        "INCDPA",
        "Indiana Consumer Data Protection Act",
        "US-IN",
        "Ind. Code §24-15",
        D(2026, 1, 1),
        notes="GPC not required; 45 days +45.",
    ),
    _us_state(
        "KCDPA",
        "Kentucky Consumer Data Protection Act",
        "US-KY",
        "Ky. Rev. Stat. §367.3611 et seq.",
        D(2026, 1, 1),
        notes="GPC not required; 45 days +45.",
    ),
    _us_state(
        "RIDTPPA",
        "Rhode Island Data Transparency and Privacy Protection Act",
        "US-RI",
        "R.I. Gen. Laws §6-48.1-1 et seq.",
        D(2026, 1, 1),
        notes="§6-48.1-6(b): 45 days +45 with notice; GPC not required.",
    ),
]

JURISDICTIONS = [
    {
        "code": "GDPR",
        "name": "GDPR (EU/EEA)",
        "regions": ["EU"],
        "consent_model": "opt_in",
        "honours_gpc": False,
        "consent_max_age_days": 365,
        "dsar_deadline_months": 1,
        "dsar_extension_months": 2,
        "notes": "Art. 12(3): one month, +2 months if complex or numerous, telling the person "
        "within the first month with reasons; refusals explained within one month (Art. 12(4)). "
        "Consent max age is practice (re-ask yearly), not law.",
    },
    {
        "code": "UK-GDPR",
        "name": "UK GDPR",
        "regions": ["GB"],
        "consent_model": "opt_in",
        "honours_gpc": False,
        "consent_max_age_days": 365,
        "dsar_deadline_months": 1,
        "dsar_extension_months": 2,
        "notes": "One month from the latest of receipt, ID received, fee received; +2 months with "
        "notice; the clock pauses while waiting for clarification.",
    },
    *US_STATES,
    {
        "code": US_FALLBACK,
        "name": "United States (no comprehensive state law)",
        "regions": ["US"],
        "statute": "FTC Act §5 (15 U.S.C. §45); sectoral laws",
        "consent_model": "opt_out",
        "honours_gpc": False,
        "sensitive_opt_in": True,
        "notes": "No general consent or access-request law: opt-out by default, no statutory "
        "deadline. Also the regime of a state before its own law takes effect.",
    },
    {
        "code": "LGPD",
        "name": "LGPD (Brazil)",
        "regions": ["BR"],
        "consent_model": "opt_in",
        "honours_gpc": False,
        "dsar_deadline_days": 15,
        "notes": "Art. 8: consent written or otherwise demonstrable, burden of proof on the "
        "controller, generic authorisations void, revocable any time for free. Art. 19: "
        "simplified reply at once, full reply within 15 days.",
    },
    {
        "code": "PIPEDA",
        "name": "PIPEDA with CASL (Canada)",
        "regions": ["CA"],
        "consent_model": "opt_in",
        "honours_gpc": False,
        "dsar_deadline_days": 30,
        "dsar_extension_days": 30,
        "notes": "s. 8(3)-(5): 30 days, +30 with notice; a missed deadline counts as a refusal. "
        "Express consent for sensitive data (implied for less sensitive: modelled as "
        "opt-in, the conservative choice). CASL: express consent does not expire; implied "
        "consent lasts 2 years after a purchase, 6 months after an inquiry.",
    },
]

PURPOSES = [
    {
        "slug": "essential",
        "name": "Essential",
        "essential": True,
        "lawful_basis": "contract",
        "description": "Running the service you asked for: account, security, checkout.",
    },
    {
        "slug": "analytics",
        "name": "Analytics",
        "description": "Measuring how the site is used to improve it.",
    },
    {
        "slug": "personalization",
        "name": "Personalisation",
        "description": "Tailoring content and recommendations to you.",
    },
    {
        "slug": "marketing_email",
        "name": "Marketing e-mails",
        "description": "News and offers by e-mail.",
    },
    {
        "slug": "sale_sharing",
        "name": "Sale or sharing of personal information",
        "sale_sharing": True,
        "description": "Selling or sharing personal information with third parties, including "
        "cross-context behavioural (targeted) advertising.",
    },
]


# Where a person may complain about how their data is handled (GDPR Art. 77, UK GDPR Art. 77,
# LGPD Art. 18 §1, PIPEDA s. 11, CCPA §1798.199.10 and §1798.155, the state Attorneys General who
# alone enforce the Virginia, Colorado and Connecticut acts), by jurisdiction code. The EU entry
# is completed by the CUSTODIA_EU_LEAD_AUTHORITY settings (see `supervisory_authorities`).
EDPB_MEMBERS_URL = "https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"
SUPERVISORY_AUTHORITIES: dict[str, list[dict[str, str]]] = {
    "GDPR": [
        {
            "id": "eu-national",
            "name": "The data protection authority of the EU/EEA country where you live or "
            "work, or where you think your rights were infringed (Art. 77)",
            "url": EDPB_MEMBERS_URL,
        }
    ],
    "UK-GDPR": [
        {"name": "Information Commissioner's Office (ICO)", "url": "https://ico.org.uk/"},
    ],
    "CCPA": [
        {"name": "California Privacy Protection Agency", "url": "https://cppa.ca.gov/"},
        {
            "name": "Attorney General of California (Privacy Unit)",
            "url": "https://oag.ca.gov/privacy/ccpa",
        },
    ],
    "VCDPA": [
        {
            "name": "Attorney General of Virginia (Consumer Protection Section)",
            "url": "https://www.oag.state.va.us/",
            "note": "First appeal our answer to us; if we deny the appeal you may contact the "
            "Attorney General (§59.1-577(C)).",
        }
    ],
    "CPA": [
        {
            "name": "Attorney General of Colorado",
            "url": "https://coag.gov/",
            "note": "First appeal our answer to us; if we deny the appeal you may contact the "
            "Attorney General (C.R.S. 6-1-1306(3)).",
        }
    ],
    "CTDPA": [
        {
            "name": "Attorney General of Connecticut",
            "url": "https://portal.ct.gov/ag",
            "note": "First appeal our answer to us; if we deny the appeal you may contact the "
            "Attorney General.",
        }
    ],
    "LGPD": [
        {
            "name": "Autoridade Nacional de Proteção de Dados (ANPD)",
            "url": "https://www.gov.br/anpd/",
        }
    ],
    "PIPEDA": [
        {
            "name": "Office of the Privacy Commissioner of Canada",
            "url": "https://www.priv.gc.ca/",
        }
    ],
}


def supervisory_authorities(jurisdiction: str) -> list[dict[str, str]]:
    """The authorities a person of `jurisdiction` may complain to, as dicts with name, url,
    sometimes a note, and an id where a README translates the entry. For the GDPR the configured
    lead authority (Art. 56) comes first, then the person's own national authority, which they
    may always choose (Art. 77(1))."""
    found = [dict(entry) for entry in SUPERVISORY_AUTHORITIES.get(jurisdiction, [])]
    if jurisdiction == "GDPR" and settings.CUSTODIA_EU_LEAD_AUTHORITY:
        lead = {
            "id": "eu-lead",
            "name": settings.CUSTODIA_EU_LEAD_AUTHORITY,
            "url": settings.CUSTODIA_EU_LEAD_AUTHORITY_URL or EDPB_MEMBERS_URL,
            "note": "our lead supervisory authority (Art. 56)",
        }
        found.insert(0, lead)
    return found


def seed_regimes() -> None:
    """Create or refresh the shipped jurisdictions and purposes (idempotent)."""
    from consent.models import Jurisdiction, Purpose

    for values in JURISDICTIONS:
        Jurisdiction.objects.update_or_create(code=values["code"], defaults=values)
    for values in PURPOSES:
        Purpose.objects.update_or_create(slug=values["slug"], defaults=values)
