from django.db import models
from django.utils.translation import gettext_lazy as _


class Environment(models.TextChoices):
    PRODUCTION = "production", _("Production")
    STAGING = "staging", _("Staging")
    DEVELOPMENT = "development", _("Development")
    OTHER = "other", _("Other")


class Criticality(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class SnapshotSource(models.TextChoices):
    UPLOAD = "upload", _("Upload")
    PASTE = "paste", _("Paste")
    COMMAND = "command", _("Command")
    API = "api", _("API push")
