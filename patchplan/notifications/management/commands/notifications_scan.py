"""Run the notification scan once: what Celery beat does every minute. For
cron-driven setups without beat, and for tests that give an explicit time."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from patchplan.notifications.services import notifications_scan


class Command(BaseCommand):
    help = "Create due reminders, hand back dead claims and queue every due unsent email."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at",
            help="Scan as if it were this moment (ISO 8601 with offset); default now.",
        )

    def handle(self, *args, at=None, **options):
        now = None
        if at:
            try:
                now = datetime.fromisoformat(at)
            except ValueError as exc:
                raise CommandError(f"--at: {exc}") from exc
            if now.tzinfo is None:
                raise CommandError("--at needs a UTC offset, e.g. 2030-01-01T08:00:00+00:00")
        figures = notifications_scan(now=now)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in figures.items()))
