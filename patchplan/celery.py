"""The Celery application. Settings come from Django's (CELERY_* names);
periodic schedules live here, in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patchplan.settings.local")

app = Celery("patchplan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule(*, advisory_refresh: bool, advisory_hours: int = 24) -> dict:
    """Every periodic task, in one place. One beat process only (see README):
    every entry here runs once per period."""
    schedule = {
        # Reminders are rows created by this scan when due, not delayed messages;
        # it also re-queues unsent rows. A run that is not picked up within the
        # minute is dropped: the next one does the same work.
        "notifications-scan": {
            "task": "notifications.scan",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
    }
    if advisory_refresh:
        # Advisory feeds (tens of MB): off in the embedded default unless turned on.
        schedule["advisories-refresh"] = {
            "task": "advisories.refresh",
            "schedule": advisory_hours * 3600.0,
            "options": {"expires": 3600},
        }
    return schedule


app.conf.beat_schedule = beat_schedule(
    advisory_refresh=bool(app.conf.get("ADVISORY_REFRESH")),
    advisory_hours=app.conf.get("ADVISORY_REFRESH_HOURS") or 24,
)


@app.task(name="patchplan.ping")
def ping() -> str:
    """A no-op used by health checks and tests to prove a worker answers."""
    return "pong"
