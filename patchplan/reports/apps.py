from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Fleet posture, plan and downtime reports: read-only, no models."""

    name = "patchplan.reports"
    label = "reports"
    default_auto_field = "django.db.models.BigAutoField"
