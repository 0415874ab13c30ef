"""The Celery application. Settings come from Django's (CELERY_* names);
periodic schedules live here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")

app = Celery("patchplan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One beat process only (see README): every entry here runs once per period.
app.conf.beat_schedule = {}


@app.task(name="patchplan.ping")
def ping() -> str:
    """A no-op used by health checks and tests to prove a worker answers."""
    return "pong"
