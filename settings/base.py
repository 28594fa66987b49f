"""Custodia settings: every value comes from the environment, parsed once here.

CUSTODIA_ENV selects the mode: "development" (default, embedded SQLite database and broker,
development secrets generated into var/) or "production" (secrets required from the
environment, secure cookies, HSTS, `manage.py check --deploy` clean).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from settings import devsecrets
from settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
CUSTODIA_ENV = env_str("CUSTODIA_ENV", "development")
if CUSTODIA_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("CUSTODIA_ENV must be 'development' or 'production'")
PRODUCTION = CUSTODIA_ENV == "production"
VAR_DIR = Path(env_str("CUSTODIA_VAR_DIR", str(BASE_DIR / "var")))


def _secret(name: str) -> str:
    """A secret from the environment; in development, generated once into var/."""
    value = env_str(name, required=PRODUCTION)
    if value:
        return value
    return devsecrets.load_or_create(VAR_DIR / "dev-secrets.json")[name]


SECRET_KEY = _secret("SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Field-encryption key material (profiles/crypto): independent of SECRET_KEY.
CUSTODIA_KEYS = _secret("CUSTODIA_KEYS")
CUSTODIA_BLIND_INDEX_KEY = _secret("CUSTODIA_BLIND_INDEX_KEY")
CUSTODIA_SIGNING_KEY = _secret("CUSTODIA_SIGNING_KEY")
CUSTODIA_CURRENT_KEY_VERSION = env_int("CUSTODIA_CURRENT_KEY_VERSION", 0)  # 0 = highest version
# Identity resolution (Fellegi-Sunter, profiles/matching): a pair whose match probability
# reaches TARGET_PRECISION is merged; the review threshold keeps TARGET_RECALL of the expected
# matches (set at each re-estimation; REVIEW_FLOOR, a probability, before the first one).
CUSTODIA_MATCH_TARGET_PRECISION = env_float("CUSTODIA_MATCH_TARGET_PRECISION", 0.995)
CUSTODIA_MATCH_TARGET_RECALL = env_float("CUSTODIA_MATCH_TARGET_RECALL", 0.995)
CUSTODIA_MATCH_REVIEW_FLOOR = env_float("CUSTODIA_MATCH_REVIEW_FLOOR", 0.05)
# Block purging: a blocking key shared with more subjects than this is skipped as too common
# (pairs agreeing on three signals still meet through a triple key; profiles/services/matching).
CUSTODIA_MATCH_BLOCK_MAX = env_int("CUSTODIA_MATCH_BLOCK_MAX", 3)
CUSTODIA_IMPORT_DIR = Path(env_str("CUSTODIA_IMPORT_DIR", str(VAR_DIR / "imports")))

INSTALLED_APPS = [
    "ops.admin_config.WorkspaceAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "ops",
    "audit",
    "access",
    "profiles",
    "consent",
    "stores",
    "activation",
    "dsar",
    "sso",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ops.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "ops.middleware.PageMessageMiddleware",  # Django's, skipped under /api/
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ops.middleware.ApiErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "settings.urls"
WSGI_APPLICATION = "settings.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'custodia.sqlite3'}")
DATABASES = {
    # With persistent connections, check a reused one when a request starts: a connection the
    # server ended (restart, failover, pg_terminate_backend) is replaced instead of failing
    # the request. On PostgreSQL the check costs no round trip (core/db/postgresql/base.py).
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip (core/db/postgresql).
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let the web server and the worker processes write one file;
    # core.db.sqlite3 queues the writers on a file lock rather than SQLite's busy sleeps.
    DATABASES["default"]["ENGINE"] = "core.db.sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-custodia.sqlite3")}
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# PostgreSQL: the hot statements sent through core.db.pipeline are prepared once per
# connection (Django's own queries are never prepared). Off behind a pooler that cannot keep
# prepared statements per client (PgBouncer's transaction mode before 1.21).
CUSTODIA_DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The languages of the hub's public pages (banner, privacy center); catalogues in locale/.
LANGUAGES = [
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("it", "Italiano"),
    ("nl", "Nederlands"),
    ("pt-br", "Português (Brasil)"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
MEDIA_ROOT = VAR_DIR / "media"

CACHE_URL = env_str("CACHE_URL", "")
# Redis cache: the longest a request waits on a silent server, and how long commands then fail
# at once before the server is tried again (core.cache.RedisCache).
CUSTODIA_CACHE_SOCKET_TIMEOUT = env_float("CACHE_SOCKET_TIMEOUT", 1.0)
CUSTODIA_CACHE_FAIL_FAST_SECONDS = env_float("CACHE_FAIL_FAST_SECONDS", 2.0)
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": CACHE_URL}}
else:
    # File cache: shared by the web server and the worker processes of the embedded setup.
    CACHES = {
        "default": {
            "BACKEND": "core.cache.FileCache",
            "LOCATION": str(VAR_DIR / "cache"),
            # One rate-limit bucket per client: room for many before live entries are culled.
            "OPTIONS": {"MAX_ENTRIES": env_int("CUSTODIA_FILE_CACHE_MAX_ENTRIES", 50_000)},
        }
    }

# --- Django REST framework and OpenAPI -------------------------------------------------
# Limits on what a client may send (docs/api.md, Limits): a body over its limit is 413, a
# deeper JSON document 400, a list page larger than CUSTODIA_MAX_PAGE_SIZE is capped.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CUSTODIA_MAX_BODY_BYTES", 2 * 1024 * 1024)
CUSTODIA_PUBLIC_MAX_BODY_BYTES = env_int("CUSTODIA_PUBLIC_MAX_BODY_BYTES", 64 * 1024)
CUSTODIA_IMPORT_MAX_BYTES = env_int("CUSTODIA_IMPORT_MAX_BYTES", 1024 * 1024 * 1024)
CUSTODIA_JSON_MAX_DEPTH = env_int("CUSTODIA_JSON_MAX_DEPTH", 32)
CUSTODIA_MAX_PAGE_SIZE = env_int("CUSTODIA_MAX_PAGE_SIZE", 500)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "access.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "DEFAULT_PARSER_CLASSES": ["core.parsers.CheckedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "ops.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "ops.openapi.ErrorDocumentingAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Custodia API",
    "DESCRIPTION": "Consent, profiles, access control, audit and data-subject requests.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {"RequestKindEnum": "dsar.models.DataSubjectRequest.Kind"},
}

# --- Celery ----------------------------------------------------------------------------
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers unacknowledged messages after the visibility timeout (a second line behind
# the database lease sweeper); the SQLAlchemy transport passes its options to create_engine.
# A broker that does not answer fails a publish after this many seconds per try (connect or
# reply; two tries with the retry policy below: about 5 s with the default) rather than holding
# the web request that sent it: every sender catches the error and leaves the work to beat's
# sweepers (core.wake.publish). Well above the Redis transport's blocking pop, which waits
# CELERY_POLLING_INTERVAL (0.2 s) at a time.
CELERY_BROKER_SOCKET_TIMEOUT = env_float("CELERY_BROKER_SOCKET_TIMEOUT", 3.0)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_SOCKET_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
        "socket_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_SOCKET_TIMEOUT,
    }
    if CELERY_BROKER_URL.startswith(("redis", "rediss"))
    else {}
)
# One quick retry of a publish (a dropped connection is reopened), not Celery's three.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The embedded broker is polled (kombu's default, 1 s, would add a second to every task).
CELERY_POLLING_INTERVAL = env_float("CELERY_POLLING_INTERVAL", 0.2)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "dsar.*": {"queue": "dsar"},
    "consent.*": {"queue": "consent"},
    "profiles.*": {"queue": "default"},
    "activation.*": {"queue": "default"},
    "audit.*": {"queue": "maintenance"},
    "ops.*": {"queue": "maintenance"},
}
CELERY_WORKER_QUEUES = ["default", "dsar", "consent", "maintenance"]
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Filled by each app's beat schedule in settings/celery.py (one place lists them all).
CELERY_BEAT_SCHEDULE: dict = {}
CUSTODIA_WORKER_HEARTBEAT_SECONDS = env_float("CUSTODIA_WORKER_HEARTBEAT_SECONDS", 5.0)
CUSTODIA_WORKER_STALE_SECONDS = env_float("CUSTODIA_WORKER_STALE_SECONDS", 20.0)
CUSTODIA_STEP_LEASE_SECONDS = env_int("CUSTODIA_STEP_LEASE_SECONDS", 300)
# Pipeline steps of the same kind a worker claims and runs together (one transaction each).
CUSTODIA_STEP_BATCH = env_int("CUSTODIA_STEP_BATCH", 100)
CUSTODIA_DSAR_SWEEP_SECONDS = env_float("CUSTODIA_DSAR_SWEEP_SECONDS", 30.0)

# --- Data-subject requests -------------------------------------------------------------
CUSTODIA_DSAR_VERIFY_HOURS = env_int("CUSTODIA_DSAR_VERIFY_HOURS", 72)
CUSTODIA_DSAR_ARCHIVE_DAYS = env_int("CUSTODIA_DSAR_ARCHIVE_DAYS", 7)
CUSTODIA_DSAR_TEAM_EMAIL = env_str("CUSTODIA_DSAR_TEAM_EMAIL", "")
# Request kinds an officer approves before the pipeline runs (comma-separated).
CUSTODIA_DSAR_APPROVAL_REQUIRED = env_list(
    "CUSTODIA_DSAR_APPROVAL_REQUIRED", ["erasure", "rectification"]
)

# --- Client addresses and public rate limits --------------------------------------------
# How many proxies of ours stand in front of the hub (each appends to X-Forwarded-For); 0 = the
# socket's peer address is the client and X-Forwarded-For is ignored.
CUSTODIA_TRUSTED_PROXIES = env_int("CUSTODIA_TRUSTED_PROXIES", 0)
# Public banner/privacy-center API and intake: a token bucket per (property key, client address)
# and a much higher ceiling per property key (see docs/operations.md for sizing).
CUSTODIA_PUBLIC_CLIENT_RATE = env_str("CUSTODIA_PUBLIC_CLIENT_RATE", "120/min")
CUSTODIA_PUBLIC_KEY_RATE = env_str("CUSTODIA_PUBLIC_KEY_RATE", "6000/min")
# Requests that mail a code (DSAR intake and confirmation), per client address.
CUSTODIA_INTAKE_RATE = env_str("CUSTODIA_INTAKE_RATE", "20/hour")

# Admin searches by personal data: the term is kept server-side under a random id this long.
CUSTODIA_ADMIN_SEARCH_SECONDS = env_int("CUSTODIA_ADMIN_SEARCH_SECONDS", 900)
# The big changelists on PostgreSQL (audit log, ledger, subjects): a result the planner expects
# to hold at least this many rows is counted from that estimate, not by reading every row.
CUSTODIA_ADMIN_EXACT_COUNT_BELOW = env_int("CUSTODIA_ADMIN_EXACT_COUNT_BELOW", 100_000)
# Their last page: a page is read with OFFSET, which reads every row before it (deeper pages
# cost more and more); further back, the officer filters, searches or sorts the other way.
CUSTODIA_ADMIN_MAX_PAGE = env_int("CUSTODIA_ADMIN_MAX_PAGE", 100)
if CUSTODIA_ADMIN_MAX_PAGE < 1:
    raise ImproperlyConfigured("CUSTODIA_ADMIN_MAX_PAGE must be at least 1")

# --- Staff sign-in: TOTP second factor and lockout -------------------------------------
CUSTODIA_REQUIRE_MFA = env_bool("CUSTODIA_REQUIRE_MFA", PRODUCTION)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_CLIENT_IP_CALLABLE = "audit.actors.client_ip"  # the same trusted-proxy rule everywhere
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

# --- Outbound mail (DSAR confirmation codes, reminders) --------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "privacy@localhost")
# Optional external write-once store that receives the audit chain head every 15 minutes.
CUSTODIA_AUDIT_HEAD_URL = env_str("CUSTODIA_AUDIT_HEAD_URL", "")
# Optional file outside the database that keeps the newest published audit head (written by
# `audit_head` and the beat task, read by `audit_verify` and the hourly check).
CUSTODIA_AUDIT_HEAD_FILE = env_str("CUSTODIA_AUDIT_HEAD_FILE", "")
# Base of every mailed link, callback URL and printed address. By default the address the
# Procfile's web server listens on (CUSTODIA_HOST, CUSTODIA_PORT), so a changed port reaches
# the links; set it explicitly behind a proxy or a public domain.
_SERVE_HOST = env_str("CUSTODIA_HOST", "127.0.0.1")
_WILDCARD_HOSTS = {"0.0.0.0", "::", "[::]"}  # noqa: S104 - compared with, never bound to
_LINK_HOST = "127.0.0.1" if _SERVE_HOST in _WILDCARD_HOSTS else _SERVE_HOST
CUSTODIA_PUBLIC_URL = env_str(
    "CUSTODIA_PUBLIC_URL", f"http://{_LINK_HOST}:{env_int('CUSTODIA_PORT', 8000)}"
).rstrip("/")
# Who the controller is and how to reach it and its DPO (Art. 13(1)(a)-(b), 15, 30(1)(a)):
# named in access archives and the Art. 30 record (per-activity values override the latter).
# Development mode names the demo shop, so the demo's archives show a real-looking identity;
# production names no one until configured.
_DEMO = not PRODUCTION
CUSTODIA_CONTROLLER_NAME = env_str("CUSTODIA_CONTROLLER_NAME", "Demo Shop SAS" if _DEMO else "")
CUSTODIA_CONTROLLER_ADDRESS = env_str(
    "CUSTODIA_CONTROLLER_ADDRESS", "1 rue de l'Exemple, 75001 Paris, France" if _DEMO else ""
)
CUSTODIA_CONTROLLER_CONTACT = env_str(
    "CUSTODIA_CONTROLLER_CONTACT", "privacy@shop.example" if _DEMO else ""
)
CUSTODIA_CONTROLLER = env_str(
    "CUSTODIA_CONTROLLER",
    ", ".join(part for part in (CUSTODIA_CONTROLLER_NAME, CUSTODIA_CONTROLLER_ADDRESS) if part),
)
CUSTODIA_DPO_NAME = env_str("CUSTODIA_DPO_NAME", "Data protection officer" if _DEMO else "")
CUSTODIA_DPO_CONTACT = env_str("CUSTODIA_DPO_CONTACT", "dpo@shop.example" if _DEMO else "")
# Where people use their rights (the privacy center of the controller's main property).
CUSTODIA_PRIVACY_CENTER_URL = env_str(
    "CUSTODIA_PRIVACY_CENTER_URL",
    f"{CUSTODIA_PUBLIC_URL}/privacy-center/" + ("?key=pk_demo_shop" if _DEMO else ""),
)
# The EU lead supervisory authority (Art. 56), named in EU access archives; empty = the
# authority of the person's own member state, with the EDPB's list of authorities.
# Demo pages served by the hub (the identified-visitor page): on in the embedded demo only.
CUSTODIA_DEMO_PAGES = env_bool("CUSTODIA_DEMO_PAGES", _DEMO)
CUSTODIA_EU_LEAD_AUTHORITY = env_str("CUSTODIA_EU_LEAD_AUTHORITY", "CNIL (France)" if _DEMO else "")
CUSTODIA_EU_LEAD_AUTHORITY_URL = env_str(
    "CUSTODIA_EU_LEAD_AUTHORITY_URL", "https://www.cnil.fr/" if _DEMO else ""
)
# Art. 15(1)(h): what the controller says about automated decisions and profiling; empty =
# the hub's own truthful default (its matching has no legal effect on the person; marketing
# profiling is named when a purpose of the person's says so).
CUSTODIA_AUTOMATED_DECISIONS = env_str("CUSTODIA_AUTOMATED_DECISIONS", "")

# --- Security --------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
# A message waiting for the next page (a secret shown once, a subject's id) stays on the server:
# Django's default keeps it in a signed, readable cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers and orchestrators probe over plain HTTP: a redirect is not an answer.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("SECURE_PROXY_SSL_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Libraries that put personal data into their messages are logged by origin only, and
    # exceptions by their type and frames only (their text may quote input).
    "filters": {
        "withheld": {"()": "core.logs.ThirdPartyWithheld"},
        "exception_text": {"()": "core.logs.ExceptionTextWithheld"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["withheld", "exception_text"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Request logs carry URLs only; personal data never goes into URLs.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # pysaml2 logs each signed-in user's NameID at INFO.
        "saml2": {"level": "WARNING"},
    },
}

# Inbound source webhooks: the largest call accepted (bytes).
CUSTODIA_SOURCE_MAX_BYTES = env_int("CUSTODIA_SOURCE_MAX_BYTES", 256 * 1024)
# Inbox messages a worker claims per drain, and how long its claim holds before another
# worker may take them (a killed worker's batch waits this long).
CUSTODIA_INBOX_BATCH = env_int("CUSTODIA_INBOX_BATCH", 100)
CUSTODIA_INBOX_LEASE_SECONDS = env_int("CUSTODIA_INBOX_LEASE_SECONDS", 120)
