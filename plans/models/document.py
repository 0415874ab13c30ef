"""The plan document's long texts, version by version."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .plan import Plan


class DocumentText(models.TextChoices):
    """The plan's texts that are documents: Markdown, with every saved version kept."""

    BACKUP_PLAN = "backup_plan", _("Backup plan")
    TEST_PROCEDURE = "test_procedure", _("Test procedure")
    ROLLBACK_PLAN = "rollback_plan", _("Rollback plan")
    COMMUNICATION_PLAN = "communication_plan", _("Communication plan")
    LESSONS_LEARNED = "lessons_learned", _("Lessons learned")


class DocumentVersion(models.Model):
    """One saved version of one of the plan's document texts, in full, with who saved
    it and when. Append-only (plans/history_guard.py): written in the transaction
    that saves the text, never changed. The audit trail cuts long values short; this
    keeps every character, so any two versions can be compared."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="document_versions")
    field = models.CharField(max_length=30, choices=DocumentText.choices)
    text = models.TextField(blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["plan", "field", "-id"])]

    def __str__(self) -> str:
        return f"{self.field} of plan {self.plan_id} at {self.at}"
