"""Pages: the in-app list and bell, a person's preferences and calendar
feed, failed messages for team admins, and the token-protected feeds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST, require_safe

from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user, user_can

from . import selectors, services
from .forms import PreferenceForm, format_leads
from .models import Group, Notification, NotificationPreference, TeamCalendarFeed

PAGE_SIZE = 50


def _current_team(request: HttpRequest, action: str):
    if request.team is None:
        raise Http404("You are not in a team yet.")
    check_team_action(user=request.user, team_id=request.team.pk, action=action)
    return request.team


@login_required
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    # Queries: session, user, memberships, count, page of rows.
    page = Paginator(selectors.inbox_for_user(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/notification_list.html", {"page_obj": page})


@login_required
@require_safe
def notification_bell(request: HttpRequest) -> HttpResponse:
    """The navbar bell's count, loaded by htmx so pages pay no query for it."""
    return render(
        request,
        "notifications/partials/_bell_count.html",
        {"unread": selectors.unread_count(user=request.user)},
    )


@login_required
@require_GET
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follows a notification to what it is about and marks it read: opening it is
    reading it ("Mark read" is for the ones not followed). Someone else's is a 404."""
    notification = get_object_or_404(
        selectors.inbox_for_user(user=request.user), pk=notification_id
    )
    services.notifications_mark_read(user=request.user, ids=[notification.pk])
    # Paths are written by PatchPlan; still, only ever a place on this site.
    path = notification.path
    if path and url_has_allowed_host_and_scheme(
        path, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(path)
    return redirect("notification_list")


@login_required
@require_POST
def notification_mark_read(request: HttpRequest) -> HttpResponse:
    # Only the person's own rows: the id comes from the form, the owner from the session.
    ids = None
    if request.POST.get("all") != "1":
        ids = [int(v) for v in request.POST.getlist("id") if v.isdecimal()]
    services.notifications_mark_read(user=request.user, ids=ids)
    if request.htmx:
        return render(
            request,
            "notifications/partials/_bell_count.html",
            {"unread": selectors.unread_count(user=request.user)},
        )
    return redirect("notification_list")


# A new feed URL is shown on the next page only (Post/Redirect/Get): the
# session, kept on the server, carries it there once.
_NEW_FEED_URLS = "notifications_new_feed_urls"


def _preferences_context(request: HttpRequest, pref: NotificationPreference, form) -> dict:
    team = request.team
    new_urls = request.session.pop(_NEW_FEED_URLS, {})
    return {
        "form": form,
        "pref": pref,
        "has_feed": bool(pref.calendar_token_hash),
        "feed_url": new_urls.get("mine"),
        "team": team,
        "has_team_feed": team is not None and TeamCalendarFeed.objects.filter(team=team).exists(),
        "team_feed_url": new_urls.get("team") if team is not None else None,
        "can_manage_team": team is not None
        and user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM),
    }


def _show_once(request: HttpRequest, which: str, url_name: str, raw: str) -> None:
    urls = request.session.get(_NEW_FEED_URLS, {})
    urls[which] = request.build_absolute_uri(reverse(url_name, kwargs={"token": raw}))
    request.session[_NEW_FEED_URLS] = urls


@login_required
def notification_preferences(request: HttpRequest) -> HttpResponse:
    pref = services.stored_preference(request.user)
    initial = {
        "lead_times": format_leads(pref.leads),
        "email_on": [g for g in Group.values if g not in (pref.email_off or [])],
        "digest": pref.digest,
    }
    form = PreferenceForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.preference_update(
                    user=request.user,
                    lead_times_minutes=form.cleaned_data["lead_times"],
                    email_off=[g for g in Group.values if g not in form.cleaned_data["email_on"]],
                    digest=form.cleaned_data["digest"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Notification preferences saved."))
                return redirect("notification_preferences")
        status = 400
    return render(
        request,
        "notifications/preferences.html",
        _preferences_context(request, pref, form),
        status=status,
    )


@login_required
@require_POST
def calendar_token_reset(request: HttpRequest) -> HttpResponse:
    raw = services.calendar_token_reset(user=request.user)
    _show_once(request, "mine", "notification_feed_user", raw)
    messages.success(request, _("New calendar address made; the old one no longer works."))
    return redirect("notification_preferences")


@login_required
@require_POST
def team_feed_reset(request: HttpRequest) -> HttpResponse:
    team = _current_team(request, Action.MANAGE_TEAM)
    raw = services.team_feed_reset(team=team)
    _show_once(request, "team", "notification_feed_team", raw)
    messages.success(request, _("New team calendar address made; the old one no longer works."))
    return redirect("notification_preferences")


@login_required
@require_safe
def failed_list(request: HttpRequest) -> HttpResponse:
    team = _current_team(request, Action.MANAGE_TEAM)
    # Queries: session, user, memberships, count, page of rows with recipients.
    page = Paginator(selectors.failed_for_team(team=team), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/failed_list.html", {"page_obj": page, "team": team})


@login_required
@require_POST
def failed_retry(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = get_for_user(
        Notification.objects.all(),
        user=request.user,
        action=Action.MANAGE_TEAM,
        pk=notification_id,
    )
    try:
        services.notification_retry(notification=notification)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("Sending again to %(email)s.") % {"email": notification.recipient.email}
        )
    return redirect("notification_failed_list")
