"""The plan's document texts keep every saved version (plans.models.DocumentVersion).

Each service that writes one of those texts calls `document_versions_record` in its
own transaction, with the texts it wrote: the version exists exactly when the save
does."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils import timezone

from plans.models import DocumentText, DocumentVersion

DOCUMENT_TEXTS = frozenset(DocumentText.values)


def document_versions_record(*, plan_id: int, texts: Mapping[str, object], by) -> list:
    """Record the document texts among `texts` (field name -> the value just saved) as
    their newest versions, in one INSERT. Other fields are ignored; a text that
    was never written (empty on creation) has no version."""
    now = timezone.now()
    by = by if getattr(by, "pk", None) else None
    rows = [
        DocumentVersion(plan_id=plan_id, field=name, text=str(value or ""), by=by, at=now)
        for name, value in texts.items()
        if name in DOCUMENT_TEXTS
    ]
    return DocumentVersion.objects.bulk_create(rows) if rows else []
