"""The regimes Custodia ships with (../shared/REGULATIONS.md), seeded by a data migration and
kept in sync by `consent.demo.seed`. Operators may edit them in the admin."""

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


def seed_regimes() -> None:
    """Create or refresh the shipped jurisdictions and purposes (idempotent)."""
    from consent.models import Jurisdiction, Purpose

    for values in JURISDICTIONS:
        Jurisdiction.objects.update_or_create(code=values["code"], defaults=values)
    for values in PURPOSES:
        Purpose.objects.update_or_create(slug=values["slug"], defaults=values)
