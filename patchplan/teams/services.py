"""Writes to teams and memberships. Each service validates, saves in one
transaction and queues its side effects (email) for after the commit."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from patchplan.accounts.models import User
from patchplan.core import audit
from patchplan.core.text import single_line

from .models import FreezePeriod, Invitation, Membership, OffPeakPeriod, Team
from .roles import Role


def _audit(team, *, action: str, by=None, obj=None, field: str = "", old=None, new=None) -> None:
    """The team's history (an AuditEvent with the team and no plan), in the caller's
    transaction, through core.audit: the rows are the plans app's, above teams."""
    audit.audit_event(team=team, obj=obj, action=action, field=field, old=old, new=new, by=by)


INVITATION_SALT = "patchplan.teams.invitation"
INVITATION_MAX_AGE = 60 * 60 * 24 * 7  # a week


@transaction.atomic
def team_create(*, name: str, slug: str, admin: User, time_zone: str = "UTC") -> Team:
    """Create a team with its first admin."""
    team = Team.objects.create(name=name, slug=slug, time_zone=time_zone)
    membership = Membership.objects.create(team=team, user=admin, role=Role.ADMIN)
    _audit(team, action="created", field="team", new=name, by=admin)
    _audit(team, action="created", obj=membership, field="role", new=Role.ADMIN, by=admin)
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    name: str,
    time_zone: str,
    four_eyes: bool,
    listing_max_age_days: int | None = None,
    by=None,
) -> Team:
    """Change the team's settings (`listing_max_age_days` None: kept as it is)."""
    fields = ("name", "time_zone", "four_eyes", "listing_max_age_days")
    before = audit.snapshot(Team.objects.get(pk=team.pk), fields)
    team.name = name
    team.time_zone = time_zone
    team.four_eyes = four_eyes
    if listing_max_age_days is not None:
        team.listing_max_age_days = listing_max_age_days
    team.full_clean(exclude=["slug"])
    team.save(update_fields=list(fields))
    audit.audit_changes(
        team=team, obj=team, before=before, after=audit.snapshot(team, fields), by=by
    )
    return team


@transaction.atomic
def off_peak_replace(*, team: Team, periods: list[tuple[int, object, object]], by=None) -> None:
    """Replace the team's weekly off-peak slots with `periods` (weekday, from, until)."""
    old = [str(p) for p in OffPeakPeriod.objects.filter(team=team)]
    OffPeakPeriod.objects.filter(team=team).delete()
    OffPeakPeriod.objects.bulk_create(
        OffPeakPeriod(team=team, weekday=w, starts_at=s, ends_at=e) for w, s, e in periods
    )
    new = [str(p) for p in OffPeakPeriod.objects.filter(team=team)]
    if old != new:
        _audit(team, action="changed", field="off-peak hours", old=old, new=new, by=by)


@transaction.atomic
def freeze_create(*, team: Team, starts_on, ends_on, reason: str, by=None) -> FreezePeriod:
    if ends_on < starts_on:
        raise ValidationError({"ends_on": _("The freeze ends before it starts.")})
    freeze = FreezePeriod.objects.create(
        team=team, starts_on=starts_on, ends_on=ends_on, reason=reason
    )
    _audit(team, action="created", obj=freeze, field="freeze", new=str(freeze), by=by)
    return freeze


@transaction.atomic
def freeze_delete(*, freeze: FreezePeriod, by=None) -> None:
    _audit(freeze.team, action="deleted", obj=freeze, field="freeze", old=str(freeze), by=by)
    freeze.delete()


def _admins_left_after(membership: Membership, *, new_role: str | None) -> int:
    others = (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .count()
    )
    return others + (1 if new_role == Role.ADMIN else 0)


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, by=None) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=role) == 0:
        raise ValidationError({"role": _("A team needs at least one admin.")})
    old = Membership.objects.get(pk=membership.pk).role
    membership.role = role
    membership.save(update_fields=["role"])
    if old != role:
        _audit(
            membership.team,
            action="changed",
            obj=membership,
            field="role",
            old=old,
            new=role,
            by=by,
        )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by=None) -> None:
    """Remove someone from a team; their access ends at their next request."""
    if membership.role == Role.ADMIN and _admins_left_after(membership, new_role=None) == 0:
        raise ValidationError(_("A team needs at least one admin."))
    _audit(
        membership.team,
        action="deleted",
        obj=membership,
        field="member",
        old=f"{membership.user} ({membership.role})",
        by=by,
    )
    membership.delete()


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "e": invitation.email}, salt=INVITATION_SALT)


def invitation_from_token(token: str) -> Invitation:
    """The open invitation behind a signed link, or ValidationError saying why not."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(_("This invitation has expired. Ask for a new one.")) from exc
    except signing.BadSignature as exc:
        raise ValidationError(_("This invitation link is not valid.")) from exc
    invitation = Invitation.objects.select_related("team").filter(pk=data.get("i")).first()
    if invitation is None or invitation.email != data.get("e") or not invitation.is_open:
        raise ValidationError(_("This invitation is no longer open."))
    return invitation


def _send_invitation(invitation_id: int) -> None:
    invitation = Invitation.objects.select_related("team", "invited_by").get(pk=invitation_id)
    link = settings.SITE_URL + reverse(
        "team_invitation_accept", kwargs={"token": invitation_token(invitation)}
    )
    context = {"invitation": invitation, "link": link, "days": INVITATION_MAX_AGE // 86400}
    # The team's or inviter's name may hold a line break from before names
    # were checked: a subject must stay one line (else BadHeaderError).
    subject = single_line(render_to_string("emails/invitation-subject.txt", context))
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/invitation-body.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(
        render_to_string("emails/invitation-body.html", context), "text/html"
    )
    message.send()


@transaction.atomic
def invitation_create(*, team: Team, email: str, role: str, by: User) -> Invitation:
    email = email.strip()
    if Membership.objects.filter(team=team, user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already in the team.")})
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    invitation = Invitation.objects.create(team=team, email=email, role=role, invited_by=by)
    _audit(
        team, action="created", obj=invitation, field="invitation", new=f"{email} ({role})", by=by
    )
    transaction.on_commit(lambda: _send_invitation(invitation.pk))
    return invitation


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by=None) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    _audit(
        invitation.team,
        action="revoked",
        obj=invitation,
        field="invitation",
        old=invitation.email,
        by=by,
    )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the team; the invitation is used up. The user's email must match."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise ValidationError(_("This invitation is no longer open."))
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            _("This invitation was sent to %(email)s; you are signed in as another address.")
            % {"email": invitation.email}
        )
    membership, _created = Membership.objects.get_or_create(
        team=invitation.team, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    _audit(
        invitation.team,
        action="joined",
        obj=membership,
        field="member",
        new=f"{user} ({membership.role})",
        by=user,
    )
    return membership
