from .roles import ROLE_ACTIONS
from .selectors import memberships_for_user


def current_team(request):
    """The team switcher and the current role's permissions for templates."""
    user = getattr(request, "user", None)
    membership = getattr(request, "membership", None)
    return {
        "current_team": getattr(request, "team", None),
        "current_membership": membership,
        "my_memberships": memberships_for_user(user) if user is not None else [],
        "can": ROLE_ACTIONS.get(membership.role, frozenset()) if membership else frozenset(),
    }
