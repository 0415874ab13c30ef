"""Reads of servers, always scoped through the access selectors."""

from django.db.models import QuerySet

from patchplan.teams.models import Team
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user

from .models import Server


def servers_for_team(*, user, team: Team) -> QuerySet[Server]:
    """The team's servers, for a member of the team (404 otherwise)."""
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    return Server.objects.filter(team=team)


def server_get_for_user(*, user, server_id: int, action: str = Action.VIEW) -> Server:
    return get_for_user(
        Server.objects.select_related("owner", "team"), user=user, action=action, pk=server_id
    )
