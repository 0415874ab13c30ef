"""The Celery application. Settings come from Django's (CELERY_* names);
periodic schedules live here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")

app = Celery("patchplan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One beat process only (see README): every entry here runs once per period.
app.conf.beat_schedule = {
    # Reminders are rows created by this scan when due, not delayed messages;
    # it also re-queues unsent rows. A run that is not picked up within the
    # minute is dropped: the next one does the same work.
    "notifications-scan": {
        "task": "notifications.scan",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}


# Advisory feeds, daily by default; off unless ADVISORY_REFRESH is on (the
# embedded default leaves it off: it downloads tens of MB).
if app.conf.get("ADVISORY_REFRESH"):
    app.conf.beat_schedule["advisories-refresh"] = {
        "task": "advisories.refresh",
        "schedule": app.conf.get("ADVISORY_REFRESH_HOURS", 24) * 3600.0,
        "options": {"expires": 3600},
    }


@app.task(name="patchplan.ping")
def ping() -> str:
    """A no-op used by health checks and tests to prove a worker answers."""
    return "pong"
