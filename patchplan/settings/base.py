"""PatchPlan settings: the one module that reads the environment.

Every setting an operator may change comes from an environment variable (see
.env.example and the README's configuration table). The defaults need no
service at all: SQLite under var/, kombu's filesystem transport as the Celery
broker, email written to files under var/mail/. `local`, `production` and
`test` only choose defaults for these variables before importing this module.
"""

import contextlib
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
# A .env file beside manage.py is a convenience for development; real
# deployments set the variables in their process manager.
env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("PATCHPLAN_VAR_DIR", default=str(BASE_DIR / "var")))
# The embedded defaults (SQLite, filesystem broker, mail files) live here.
for _sub in ("", "mail", "celery/broker", "celery/control"):
    # A read-only image with every service configured needs none of them.
    with contextlib.suppress(OSError):
        (VAR_DIR / _sub).mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-this-one-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG off PatchPlan refuses to start without it: "
            "set SECRET_KEY in the environment to a long random string, e.g. the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Links in emails are built from SITE_URL only, never from the request's Host.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "axes",
    "csp",
    "patchplan.accounts",
    "patchplan.teams",
    "patchplan.core",
    "patchplan.notifications",
    "patchplan.reports",
    "patchplan.dashboard",
    "servers",
    "plans",
    "patchplan.advisories",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "patchplan.teams.middleware.CurrentTeamMiddleware",
    "patchplan.core.middleware.UserTimezoneMiddleware",
    # Axes must come last: it turns a locked-out login into its own answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "patchplan.urls"
WSGI_APPLICATION = "patchplan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "patchplan.teams.context_processors.current_team",
            ],
            # {% load jinja %}: a Jinja2 row template inside a Django template.
            "libraries": {"jinja": "patchplan.jinja2"},
        },
    },
    # The hot rows (task, scope server, window, milestone rows): lists of hundreds of rows
    # that are also htmx answers, about ten times cheaper in Jinja2 (patchplan/jinja2.py).
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "patchplan.jinja2.environment"},
    },
]

# --- Database -------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'patchplan.sqlite3'}")
}
# Persistent connections matter most for page speed (a 1-row page went from
# about 170 to 1,400 requests/s here); health checks drop a connection that
# died while PostgreSQL restarted, instead of failing the next request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default runs web, worker and beat on one file: wait for
    # the write lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A cache shared by every web process in production (CACHE_URL=redis://...);
# the embedded default keeps one per process, which is all one process needs.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# --- Auth -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
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
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3

# Login throttling (django-axes): ten failures for one username, or from one
# address, lock that username or address for the cool-off time. Axes counts
# usernames whether or not the account exists, so an unknown user gets the
# same answer as a known one. A successful login forgives only that
# account's own failures from that address (see the handler: axes' own reset
# deleted every failure from the address, which let anyone with an account
# reset the count against someone else's username).
AXES_HANDLER = "patchplan.accounts.axes_handler.OwnAttemptsResetHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind a reverse proxy the client address is in X-Forwarded-For; trust it
# only when the operator says a proxy is in front.
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# Inventory API limits (django-ratelimit, counted in CACHES["default"], which
# must be the shared Redis cache in production). A host on a 5-minute cron
# pushes 12 times an hour; 600/h lets 50 such hosts share one token, or sit
# behind one NAT address, and still stops a leaked token or a runaway script
# from parsing 5 MB listings back to back. The address limit applies before
# the token is checked, so it also bounds guessing.
API_RATE_PER_TOKEN = env.str("API_RATE_PER_TOKEN", default="600/h")
API_RATE_PER_ADDRESS = env.str("API_RATE_PER_ADDRESS", default="600/h")
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "patchplan.core.ratelimits.client_ip"

# A working day: long enough not to interrupt a maintenance window, short
# enough that a forgotten browser on a shared console does not stay signed in.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 10)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Internationalisation and time -----------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# One date format on every page ("11 Jan 2027"), not the locale's "Jan. 11, 2027".
FORMAT_MODULE_PATH = ["patchplan.formats"]

# --- Static files ---------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# Uploads: inventory listings are capped at 5 MB by their own parser; the
# request limit sits a little above so the parser can give the clear message.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=6 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=6 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=5)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=2000)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ------------------------------------------------------------------
# EMAIL_URL (smtp://user:pass@host:587, smtp+tls://..., filemail:///path)
# wins; otherwise EMAIL_HOST switches to SMTP with the EMAIL_* variables;
# otherwise messages are written as files under var/mail/.
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
if not EMAIL_FILE_PATH:  # filemail:// without a path
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# A hung SMTP server must not hold a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="PatchPlan <patchplan@localhost>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Celery -------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: a real worker and beat with no server.
    _broker_dir = VAR_DIR / "celery" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacknowledged task after the visibility timeout;
    # it must exceed the longest task (CELERY_TASK_TIME_LIMIT) by a margin.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="patchplan")
CELERY_TASK_IGNORE_RESULT = True
# Acks late only where a task is idempotent, per task (the email delivery
# tasks, whose outbox rows are claimed, set acks_late=True themselves); a
# task that is not idempotent must not run twice after a redelivery.
CELERY_TASK_ACKS_LATE = False
# On a lost broker connection, let a running delivery finish and mark its
# row rather than cancel it mid-SMTP (a cancel there is the duplicate case).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 5 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 4 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Notifications outbox (docs/notifications.md, "Nothing lost") ----------------
# A delivery task may run at most this long (a batch of slow SMTP sends);
# enforced by the prefork pool. The claim timeout must stay above it.
NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS = env.int(
    "NOTIFICATIONS_DELIVERY_TIME_LIMIT_SECONDS", default=60
)
# A pending row queued this long ago without being delivered: its broker
# message is taken as lost and the scan queues it again.
NOTIFICATIONS_REQUEUE_AFTER_SECONDS = env.int("NOTIFICATIONS_REQUEUE_AFTER_SECONDS", default=60)
# A row claimed ("sending") this long ago belongs to a worker that died.
NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS = env.int("NOTIFICATIONS_CLAIM_TIMEOUT_SECONDS", default=90)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_TIMEZONE = "UTC"

# --- Advisory feeds -------------------------------------------------------------
# Each source can be turned off; the scheduled refresh (patchplan/celery.py)
# runs only with ADVISORY_REFRESH on: production turns it on by default, the
# embedded default (DEBUG) leaves it off, since it downloads tens of MB.
CELERY_ADVISORY_REFRESH = env.bool("ADVISORY_REFRESH", default=not DEBUG)
CELERY_ADVISORY_REFRESH_HOURS = env.int("ADVISORY_REFRESH_HOURS", default=24)
_OSV = "https://osv-vulnerabilities.storage.googleapis.com"
ADVISORY_SOURCES = {
    "debian": {
        "enabled": env.bool("ADVISORY_DEBIAN", default=True),
        "urls": env.list(
            "ADVISORY_DEBIAN_URL",
            default=["https://security-tracker.debian.org/tracker/data/json"],
        ),
    },
    "osv": {
        "enabled": env.bool("ADVISORY_OSV", default=True),
        "urls": env.list(
            "ADVISORY_OSV_URLS",
            default=[
                f"{_OSV}/Ubuntu/all.zip",
                f"{_OSV}/AlmaLinux/all.zip",
                f"{_OSV}/Rocky%20Linux/all.zip",
            ],
        ),
    },
    "kev": {
        "enabled": env.bool("ADVISORY_KEV", default=True),
        "urls": env.list(
            "ADVISORY_KEV_URL",
            default=[
                "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
            ],
        ),
    },
}

# --- Security -----------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts only from our own static
# files, never inline, so injected markup cannot run. Inline *styles* stay
# allowed: server-drawn SVG charts use style attributes, and a style cannot
# run code. Bootstrap's CSS embeds small data: SVG icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers probe /healthz over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("USE_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Axes logs every login at INFO with masked fields; our own security
        # log says who and from where.
        "axes": {"level": "WARNING"},
        "patchplan.security": {"level": "INFO"},
    },
}

PATCHPLAN_ROLES_HELP = _("Roles: admin, planner, engineer, approver, viewer.")

# The admin (superusers only) at a path that operators may move (.env.example
# moves it: /admin/ is the first path scanners and password-guessing bots try).
# Normalised to "path/" so that "/ops", "ops" and "ops/" all work.
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
if ADMIN_URL == "/":
    raise ImproperlyConfigured("ADMIN_URL must name a path, e.g. site-admin/.")

# Run mode: its board refreshes through the plan's live poll whenever anything
# changes, and besides at least this often (seconds) for what the clock alone
# changes (a window running over). (The assessment's listing freshness limit is
# each team's setting, Team.listing_max_age_days.)
PATCHPLAN_RUN_REFRESH_SECONDS = env.int("PATCHPLAN_RUN_REFRESH_SECONDS", default=60)
