from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patchplan.accounts.forms import SignUpForm

from . import services
from .forms import (
    FreezeForm,
    InviteForm,
    OffPeakFormSet,
    RoleForm,
    SwitchTeamForm,
    TeamSettingsForm,
)
from .middleware import SESSION_KEY
from .models import FreezePeriod, Invitation, Membership
from .roles import Action
from .selectors import check_team_action, get_for_user, team_members, team_roles, user_can


def _current_team_for(request: HttpRequest, action: str):
    if request.team is None:
        raise Http404("You are not in a team yet.")
    check_team_action(user=request.user, team_id=request.team.pk, action=action)
    return request.team


def _off_peak_formset(team, data=None):
    return OffPeakFormSet(
        data,
        prefix="offpeak",
        initial=[
            {"weekday": p.weekday, "starts_at": p.starts_at, "ends_at": p.ends_at}
            for p in team.off_peak_periods.all()
        ],
    )


def _render_settings(request, team, *, form=None, off_peak=None, freeze_form=None, status=200):
    return render(
        request,
        "teams/team_settings.html",
        {
            "team": team,
            "form": form or TeamSettingsForm(instance=team, prefix="team"),
            "off_peak": off_peak or _off_peak_formset(team),
            "freezes": team.freeze_periods.all(),
            "freeze_form": freeze_form or FreezeForm(prefix="freeze"),
            "can_manage": user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM),
        },
        status=status,
    )


@login_required
def team_settings(request: HttpRequest) -> HttpResponse:
    team = _current_team_for(request, Action.VIEW)
    if request.method != "POST":
        return _render_settings(request, team)
    check_team_action(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM)
    form = TeamSettingsForm(request.POST, instance=team, prefix="team")
    off_peak = _off_peak_formset(team, request.POST)
    if form.is_valid() and off_peak.is_valid():
        periods = [
            (f.cleaned_data["weekday"], f.cleaned_data["starts_at"], f.cleaned_data["ends_at"])
            for f in off_peak.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        try:
            with transaction.atomic():
                services.team_update(
                    team=team,
                    name=form.cleaned_data["name"],
                    time_zone=form.cleaned_data["time_zone"],
                    four_eyes=form.cleaned_data["four_eyes"],
                    listing_max_age_days=form.cleaned_data["listing_max_age_days"],
                    by=request.user,
                )
                services.off_peak_replace(team=team, periods=periods, by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Team settings saved."))
            return redirect("team_settings")
    return _render_settings(request, team, form=form, off_peak=off_peak, status=400)


@login_required
@require_POST
def freeze_create(request: HttpRequest) -> HttpResponse:
    team = _current_team_for(request, Action.MANAGE_TEAM)
    form = FreezeForm(request.POST, prefix="freeze")
    if form.is_valid():
        try:
            services.freeze_create(team=team, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Freeze period added."))
            return redirect("team_settings")
    return _render_settings(request, team, freeze_form=form, status=400)


@login_required
@require_POST
def freeze_delete(request: HttpRequest, freeze_id: int) -> HttpResponse:
    freeze = get_for_user(
        FreezePeriod.objects.all(), user=request.user, action=Action.MANAGE_TEAM, pk=freeze_id
    )
    services.freeze_delete(freeze=freeze, by=request.user)
    messages.success(request, _("Freeze period removed."))
    return redirect("team_settings")


@login_required
def members(request: HttpRequest) -> HttpResponse:
    team = _current_team_for(request, Action.VIEW)
    invite_form = InviteForm(request.POST or None)
    if request.method == "POST":
        check_team_action(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM)
        if invite_form.is_valid():
            try:
                services.invitation_create(team=team, by=request.user, **invite_form.cleaned_data)
            except ValidationError as exc:
                invite_form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _("Invitation sent to %(email)s.")
                    % {"email": invite_form.cleaned_data["email"]},
                )
                return redirect("team_members")
    return render(
        request,
        "teams/members.html",
        {
            "team": team,
            "memberships": team_members(team=team),
            "invitations": team.invitations.filter(
                accepted_at=None, revoked_at=None
            ).select_related("invited_by"),
            "invite_form": invite_form,
            "can_manage": user_can(user=request.user, team_id=team.pk, action=Action.MANAGE_TEAM),
            "role_form": RoleForm(),
        },
    )


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_for_user(
        Membership.objects.select_related("user"),
        user=request.user,
        action=Action.MANAGE_TEAM,
        pk=membership_id,
    )
    form = RoleForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], by=request.user
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
            membership.refresh_from_db()
    else:
        error = _("Choose a role.")
    if request.htmx:
        return render(
            request,
            "teams/partials/_member_row.html",
            {"m": membership, "can_manage": True, "error": error, "role_form": RoleForm()},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Role changed."))
    return redirect("team_members")


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_for_user(
        Membership.objects.select_related("user"),
        user=request.user,
        action=Action.MANAGE_TEAM,
        pk=membership_id,
    )
    try:
        services.membership_remove(membership=membership, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, _("%(name)s was removed from the team.") % {"name": membership.user}
        )
    return redirect("team_members")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for_user(
        Invitation.objects.all(), user=request.user, action=Action.MANAGE_TEAM, pk=invitation_id
    )
    services.invitation_revoke(invitation=invitation, by=request.user)
    messages.success(request, _("Invitation revoked."))
    return redirect("team_members")


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The signed link from the invitation email: join, or create an account and join."""
    try:
        invitation = services.invitation_from_token(token)
    except ValidationError as exc:
        return render(
            request, "teams/invitation_invalid.html", {"reason": " ".join(exc.messages)}, status=400
        )
    signup_form = None
    error = ""
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                request.session[SESSION_KEY] = invitation.team_id
                messages.success(request, _("Welcome to %(team)s.") % {"team": invitation.team})
                return redirect("dashboard")
    else:
        signup_form = SignUpForm(request.POST or None)
        if request.method == "POST" and signup_form.is_valid():
            user = signup_form.save(commit=False)
            user.email = invitation.email
            try:
                user.validate_unique()
            except ValidationError:
                signup_form.add_error(
                    None, _("An account with this email exists: log in first, then open the link.")
                )
            else:
                user.save()
                services.invitation_accept(invitation=invitation, user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[SESSION_KEY] = invitation.team_id
                return redirect("dashboard")
    return render(
        request,
        "teams/invitation_accept.html",
        {"invitation": invitation, "signup_form": signup_form, "error": error},
    )


@login_required
@require_POST
def switch_team(request: HttpRequest) -> HttpResponse:
    form = SwitchTeamForm(request.POST)
    if not form.is_valid() or form.cleaned_data["team"] not in team_roles(request.user):
        raise Http404("No such team.")
    request.session[SESSION_KEY] = form.cleaned_data["team"]
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "dashboard"
    return redirect(target)
