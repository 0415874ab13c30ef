"""Access selectors: every read of team-owned data goes through here.

The rule is NetBox's `restrict()` and healthchecks' `_get_rw_check_for_user`:
an object of a team the user is not in does not exist for them (404); an
object of their team that their role may not act on is forbidden (403).
A user's memberships are read once per request and kept on the user object,
so removing someone from a team ends their access at their next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import F, Model, QuerySet

from patchplan.core.errors import NotInTeam

from .models import Membership, Team
from .roles import Action, role_allows

if TYPE_CHECKING:
    from patchplan.accounts.models import User

M = TypeVar("M", bound=Model)


_CACHE_ATTR = "_patchplan_memberships"


def memberships_for_user(user: User) -> list[Membership]:
    """The user's memberships with their teams, one query per request."""
    if not user.is_authenticated:
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(
            Membership.objects.filter(user=user).select_related("team").order_by("team__name")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_memberships(user: User) -> None:
    """Drop the per-request cache after a change to the user's memberships."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def team_roles(user: User) -> dict[int, str]:
    return {m.team_id: m.role for m in memberships_for_user(user)}


def role_in_team(*, user: User, team_id: int) -> str | None:
    return team_roles(user).get(team_id)


def user_can(*, user: User, team_id: int, action: str) -> bool:
    role = role_in_team(user=user, team_id=team_id)
    return role is not None and role_allows(role, action)


def check_team_action(*, user: User, team_id: int, action: str = Action.VIEW) -> str:
    """Return the user's role in the team, or raise 404 (not a member) / 403 (role too low)."""
    role = role_in_team(user=user, team_id=team_id)
    if role is None:
        raise NotInTeam("No such object.")
    if not role_allows(role, action):
        raise PermissionDenied(f"Your role ({role}) may not {Action(action).label}.")
    return role


def scope_to_user(queryset: QuerySet[M], *, user: User, team_field: str = "team") -> QuerySet[M]:
    """Restrict a queryset to the teams the user belongs to."""
    return queryset.filter(**{f"{team_field}__in": list(team_roles(user))})


def get_for_user(
    queryset: QuerySet[M],
    *,
    user: User,
    action: str = Action.VIEW,
    team_field: str = "team",
    **lookup: Any,
) -> M:
    """Fetch one object for the user: 404 outside their teams, 403 if the role may not act."""
    obj = (
        scope_to_user(queryset, user=user, team_field=team_field)
        .annotate(_access_team_id=F(team_field))
        .filter(**lookup)
        .first()
    )
    if obj is None:
        # Missing or another team's: the same answer, and both are logged.
        raise NotInTeam("No such object.")
    check_team_action(user=user, team_id=obj._access_team_id, action=action)
    return obj


def team_members(*, team: Team) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("user__first_name", "user__last_name", "user__username")
    )


MENTION_SUGGESTIONS = 8


def mention_candidates(*, team_id: int, prefix: str) -> list[dict[str, str]]:
    """Members of a team whose username or name starts with `prefix`, for the
    @mention autocomplete (one query, at most MENTION_SUGGESTIONS rows)."""
    from django.db.models import Q

    prefix = prefix.strip()[:50]
    rows = Membership.objects.filter(team_id=team_id)
    if prefix:
        rows = rows.filter(
            Q(user__username__istartswith=prefix)
            | Q(user__first_name__istartswith=prefix)
            | Q(user__last_name__istartswith=prefix)
        )
    return [
        {"username": username, "name": f"{first} {last}".strip() or username}
        for username, first, last in rows.order_by("user__username").values_list(
            "user__username", "user__first_name", "user__last_name"
        )[:MENTION_SUGGESTIONS]
    ]
