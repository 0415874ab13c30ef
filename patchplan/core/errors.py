"""Exceptions every layer may raise and the error handlers (core.views) know."""

from django.http import Http404


class NotInTeam(Http404):
    """An object of a team the user is not in: a 404 to them, logged as refused access."""
