"""The regimes Custodia ships with (../shared/REGULATIONS.md), seeded by a data migration and
kept in sync by `consent.demo.seed`. Operators may edit them in the admin."""

from django.conf import settings

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
    {
        "code": "CCPA",
        "name": "CCPA/CPRA (California)",
        "regions": ["US-CA"],
        "consent_model": "opt_out",
        "honours_gpc": True,
        "dsar_deadline_days": 45,
        "dsar_extension_days": 45,
        "notes": "11 CCR §7021: 45 days, +45 (90 max) with notice; confirm receipt within 10 "
        "business days; opt-outs within 15 business days; GPC honoured (§7025, §7026); opt-in for "
        "sale of under-16s' data.",
    },
    {
        "code": "VCDPA",
        "name": "Virginia CDPA",
        "regions": ["US-VA"],
        "consent_model": "opt_out",
        "honours_gpc": False,
        "dsar_deadline_days": 45,
        "dsar_extension_days": 45,
        "notes": "§59.1-577: opt-out of targeted ads, sale, profiling; opt-in for sensitive data; "
        "GPC not required.",
    },
    {
        "code": "CPA",
        "name": "Colorado Privacy Act",
        "gpc_overridable": True,
        "regions": ["US-CO"],
        "consent_model": "opt_out",
        "honours_gpc": True,
        "dsar_deadline_days": 45,
        "dsar_extension_days": 45,
        "notes": "Universal opt-out signal mandatory since 2024-07-01; an explicit opt-in may "
        "override it, revocable as easily.",
    },
    {
        "code": "CTDPA",
        "name": "Connecticut DPA",
        "gpc_overridable": True,
        "regions": ["US-CT"],
        "consent_model": "opt_out",
        "honours_gpc": True,
        "dsar_deadline_days": 45,
        "dsar_extension_days": 45,
        "notes": "Universal opt-out signal mandatory since 2025-01-01; an explicit opt-in may "
        "override it.",
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
