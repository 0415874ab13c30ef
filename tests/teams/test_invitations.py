"""Team admins invite by email with a signed, expiring link."""

import re
import time

import pytest
from django.core import mail

from patchplan.teams.models import Invitation, Membership
from patchplan.teams.roles import Role
from patchplan.teams.services import INVITATION_MAX_AGE


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """invite(client, email, role): post the form; the email goes out on commit."""

    def post(client, email="new.person@example.test", role=Role.ENGINEER):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/team/members/", {"email": email, "role": role})

    return post


def _link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/team/invitations/accept/\S+/)", message.body)[1]


@pytest.mark.django_db
def test_admin_invites_and_a_new_person_joins_with_the_role(
    invite, client_for, client, admin, team
):
    response = invite(client_for(admin))
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.test"]
    assert team.name in message.subject
    path = _link_path(message)

    client.logout()
    page = client.get(path)
    assert page.status_code == 200
    assert b"Join Blue Ops" in page.content
    response = client.post(
        path,
        {
            "username": "newbie",
            "first_name": "New",
            "last_name": "Person",
            "password1": "a-fine-long-password-7",
            "password2": "a-fine-long-password-7",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(team=team, user__username="newbie")
    assert membership.role == Role.ENGINEER
    assert membership.user.email == "new.person@example.test"
    # The link is used up.
    assert client.get(path).status_code == 400


@pytest.mark.django_db
def test_an_expired_link_is_refused(invite, client_for, client, admin, monkeypatch):
    invite(client_for(admin))
    path = _link_path(mail.outbox[0])
    client.logout()
    later = time.time() + INVITATION_MAX_AGE + 60
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = client.get(path)
    assert response.status_code == 400
    assert b"expired" in response.content


@pytest.mark.django_db
def test_a_tampered_link_is_refused(invite, client_for, client, admin):
    invite(client_for(admin))
    path = _link_path(mail.outbox[0])
    client.logout()
    response = client.get(path.replace("/accept/", "/accept/x"))
    assert response.status_code == 400
    assert b"not valid" in response.content


@pytest.mark.django_db
def test_a_revoked_invitation_cannot_be_used(invite, client_for, client, admin):
    c = client_for(admin)
    invite(c)
    invitation = Invitation.objects.get()
    c.post(f"/team/invitations/{invitation.pk}/revoke/")
    client.logout()
    assert client.get(_link_path(mail.outbox[0])).status_code == 400


@pytest.mark.django_db
def test_a_signed_in_user_with_another_email_cannot_take_the_invitation(
    invite, client_for, admin, outsider
):
    invite(client_for(admin))
    path = _link_path(mail.outbox[0])
    client = client_for(outsider)
    response = client.post(path)
    assert response.status_code == 200
    assert b"was sent to new.person@example.test" in response.content
    assert not Membership.objects.filter(user=outsider, team__slug="blue").exists()


@pytest.mark.django_db
def test_only_admins_invite(invite, client_for, planner):
    response = invite(client_for(planner))
    assert response.status_code == 403
    assert not Invitation.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_inviting_a_member_again_is_refused_with_a_message(invite, client_for, admin, engineer):
    response = invite(client_for(admin), email=engineer.email)
    assert response.status_code == 200
    assert b"already in the team" in response.content
    assert not Invitation.objects.exists()
