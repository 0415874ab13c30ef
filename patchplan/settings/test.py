"""Test defaults. DATABASE_URL / CELERY_BROKER_URL from the environment point
the suite at PostgreSQL and Redis (.ci/run does); without them it runs on
SQLite and skips what needs a service, unless CI=true or REQUIRE_SERVICES=1."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("EMAIL_URL", "memorymail://")
os.environ.setdefault("PATCHPLAN_VAR_DIR", os.path.join(os.getcwd(), "var", "test"))
# Under pytest-xdist (`make test-fast`) each worker process gets files of its own
# (uploads, the filesystem broker, maildirs); pytest-django gives it its own
# database (test_<name>_gwN).
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["PATCHPLAN_VAR_DIR"] = os.path.join(os.environ["PATCHPLAN_VAR_DIR"], worker)

from .base import *  # noqa: E402,F403
from .base import STATIC_ROOT, STORAGES  # noqa: E402

# Argon2 is deliberately slow; tests create hundreds of users.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs collectstatic; tests serve files from the finders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The live server for browser tests speaks plain HTTP.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Serve static files straight from the finders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
