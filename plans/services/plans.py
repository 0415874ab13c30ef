"""Writes to plans. Each service validates, saves in one transaction, and
queues side effects for after the commit."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from plans.models import Plan
from servers.models import Server


@transaction.atomic
def plan_scope_add(*, plan: Plan, servers: Iterable[Server], by) -> int:
    """Add servers to a plan's scope; they must belong to the plan's team.
    Returns how many were new to the scope."""
    servers = list(servers)
    if any(s.team_id != plan.team_id for s in servers):
        raise ValidationError(_("Servers of another team can't be added to this plan."))
    existing = set(plan.servers.filter(pk__in=[s.pk for s in servers]).values_list("pk", flat=True))
    new = [s for s in servers if s.pk not in existing]
    if new:
        plan.servers.add(*new)
        Plan.objects.filter(pk=plan.pk).update(version=F("version") + 1)
    return len(new)
