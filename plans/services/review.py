"""The post-implementation review: the lessons learned text (the figures of the
review are read by plans.selectors.report)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from plans.audit import audit_changes
from plans.models import Plan

MAX_LESSONS = 20_000


@transaction.atomic
def plan_lessons_update(
    *, plan: Plan, lessons_learned: str, by, version: int | None = None
) -> Plan:
    """Save the review's lessons learned (Markdown). With `version`, refused when the
    plan was saved by someone else since it was loaded."""
    text = lessons_learned.strip()
    if len(text) > MAX_LESSONS:
        raise ValidationError(
            {"lessons_learned": _("Keep it under %(n)d characters.") % {"n": MAX_LESSONS}}
        )
    current = Plan.objects.select_for_update().get(pk=plan.pk)
    if version is not None and current.version != version:
        raise ValidationError(
            {
                "lessons_learned": _(
                    "Someone changed the plan meanwhile; reload the page (your text is kept below)."
                )
            },
            code="stale",
        )
    before = {"lessons_learned": current.lessons_learned}
    Plan.objects.filter(pk=plan.pk).update(
        lessons_learned=text, version=F("version") + 1, updated_at=timezone.now()
    )
    audit_changes(plan=plan, obj=None, before=before, after={"lessons_learned": text}, by=by)
    plan.refresh_from_db()
    return plan
