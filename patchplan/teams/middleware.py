from django.http import HttpRequest, HttpResponse

from .selectors import memberships_for_user

SESSION_KEY = "patchplan_team_id"


class CurrentTeamMiddleware:
    """Sets request.team and request.membership: the team the user is working
    in (chosen with the switcher, kept in the session), or None."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.team = None
        request.membership = None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = memberships_for_user(user)
            wanted = request.session.get(SESSION_KEY)
            chosen = next((m for m in memberships if m.team_id == wanted), None)
            if chosen is None and memberships:
                chosen = memberships[0]
            if chosen is not None:
                request.team = chosen.team
                request.membership = chosen
        return self.get_response(request)
