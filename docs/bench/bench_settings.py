"""Settings for docs/bench/pages_bench.py's gunicorn: the local settings with DEBUG off and
a URL conf that adds the bare comparison page (bench_urls). Not used by the product."""

from patchplan.settings.local import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench_urls"
SECURE_SSL_REDIRECT = False
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
