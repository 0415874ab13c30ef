"""Reads of plans, always scoped through the access selectors."""

from django.db.models import Count, QuerySet

from patchplan.teams.models import Team
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user
from plans.models import Plan


def plans_for_team(*, user, team: Team) -> QuerySet[Plan]:
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    return Plan.objects.filter(team=team)


def plan_get_for_user(*, user, plan_id: int, action: str = Action.VIEW) -> Plan:
    return get_for_user(
        Plan.objects.select_related("owner", "team").annotate(server_count=Count("servers")),
        user=user,
        action=action,
        pk=plan_id,
    )
