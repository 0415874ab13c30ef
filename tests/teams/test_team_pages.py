"""Team settings, members and the team switcher."""

import pytest
from django.urls import reverse

from patchplan.teams.models import FreezePeriod, Membership, OffPeakPeriod
from patchplan.teams.roles import Role
from tests import factories


def _settings_payload(**overrides):
    data = {
        "team-name": "Blue Ops (EU)",
        "team-time_zone": "Europe/Paris",
        "team-four_eyes": "on",
        "team-listing_max_age_days": "14",
        "offpeak-TOTAL_FORMS": "1",
        "offpeak-INITIAL_FORMS": "0",
        "offpeak-MIN_NUM_FORMS": "0",
        "offpeak-MAX_NUM_FORMS": "50",
        "offpeak-0-weekday": "5",
        "offpeak-0-starts_at": "22:00",
        "offpeak-0-ends_at": "04:00",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_admin_changes_team_settings_and_off_peak_hours(client_for, admin, team):
    response = client_for(admin).post("/team/", _settings_payload())
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.name == "Blue Ops (EU)"
    assert team.time_zone == "Europe/Paris"
    assert team.listing_max_age_days == 14  # the assessment's freshness limit
    (period,) = OffPeakPeriod.objects.filter(team=team)
    assert (period.weekday, str(period.starts_at), str(period.ends_at)) == (
        5,
        "22:00:00",
        "04:00:00",
    )


@pytest.mark.django_db
def test_an_empty_off_peak_slot_is_refused_and_nothing_is_saved(client_for, admin, team):
    payload = _settings_payload(**{"offpeak-0-ends_at": "22:00"})
    response = client_for(admin).post("/team/", payload)
    assert response.status_code == 400
    assert b"must not be empty" in response.content
    team.refresh_from_db()
    assert team.name == "Blue Ops"
    assert not OffPeakPeriod.objects.exists()


@pytest.mark.django_db
def test_viewer_sees_settings_but_cannot_change_them(client_for, viewer, team):
    client = client_for(viewer)
    page = client.get("/team/")
    assert page.status_code == 200
    assert b"Save settings" not in page.content
    response = client.post("/team/", _settings_payload())
    assert response.status_code == 403
    team.refresh_from_db()
    assert team.name == "Blue Ops"


@pytest.mark.django_db
def test_freeze_ending_before_it_starts_is_refused_next_to_the_field(client_for, admin):
    response = client_for(admin).post(
        "/team/freezes/",
        {"freeze-starts_on": "2030-05-10", "freeze-ends_on": "2030-05-01", "freeze-reason": "x"},
    )
    assert response.status_code == 400
    assert b"ends before it starts" in response.content
    assert not FreezePeriod.objects.exists()


@pytest.mark.django_db
def test_admin_adds_and_removes_a_freeze(client_for, admin, team):
    client = client_for(admin)
    client.post(
        "/team/freezes/",
        {
            "freeze-starts_on": "2030-12-20",
            "freeze-ends_on": "2031-01-02",
            "freeze-reason": "Holidays",
        },
    )
    freeze = FreezePeriod.objects.get(team=team)
    assert freeze.reason == "Holidays"
    client.post(f"/team/freezes/{freeze.pk}/delete/")
    assert not FreezePeriod.objects.exists()


@pytest.mark.django_db
def test_role_change_in_place_returns_the_row(client_for, admin, engineer, team):
    membership = Membership.objects.get(user=engineer)
    response = client_for(admin).post(
        f"/team/members/{membership.pk}/role/", {"role": Role.PLANNER}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert f'id="member-{membership.pk}"'.encode() in response.content
    assert b"<html" not in response.content
    membership.refresh_from_db()
    assert membership.role == Role.PLANNER


@pytest.mark.django_db
def test_the_last_admin_cannot_be_demoted(client_for, admin):
    membership = Membership.objects.get(user=admin)
    response = client_for(admin).post(
        f"/team/members/{membership.pk}/role/", {"role": Role.VIEWER}, HTTP_HX_REQUEST="true"
    )
    assert b"at least one admin" in response.content
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


@pytest.mark.django_db
def test_removing_someone_ends_their_access_at_once(client, admin, engineer, team):
    server = factories.ServerFactory(team=team)
    client.force_login(engineer)
    assert client.get(f"/servers/{server.pk}/").status_code == 200

    membership = Membership.objects.get(user=engineer)
    admin_client = type(client)()
    admin_client.force_login(admin)
    admin_client.post(f"/team/members/{membership.pk}/remove/")

    # Same session, next request: gone.
    assert client.get(f"/servers/{server.pk}/").status_code == 404
    assert client.get("/servers/").status_code == 404


@pytest.mark.django_db
def test_a_user_switches_between_teams(client_for, engineer, team, other_team):
    factories.MembershipFactory(team=other_team, user=engineer, role=Role.VIEWER)
    factories.ServerFactory(team=team, hostname="blue-host")
    factories.ServerFactory(team=other_team, hostname="red-host")
    client = client_for(engineer)
    page = client.get("/servers/")
    assert b"blue-host" in page.content and b"red-host" not in page.content

    response = client.post("/team/switch/", {"team": other_team.pk, "next": "/servers/"})
    assert response["Location"] == "/servers/"
    page = client.get("/servers/")
    assert b"red-host" in page.content and b"blue-host" not in page.content


@pytest.mark.django_db
def test_switching_to_a_team_one_is_not_in_is_404(client_for, engineer, other_team):
    response = client_for(engineer).post("/team/switch/", {"team": other_team.pk})
    assert response.status_code == 404


@pytest.mark.django_db
def test_switch_refuses_an_offsite_next(client_for, engineer, team):
    response = client_for(engineer).post(
        "/team/switch/", {"team": team.pk, "next": "https://evil.example.net/"}
    )
    assert response["Location"] == reverse("dashboard")


@pytest.mark.django_db
def test_profile_saves_the_time_zone(client_for, engineer):
    response = client_for(engineer).post(
        "/accounts/profile/",
        {"first_name": "E", "last_name": "N", "email": engineer.email, "time_zone": "Asia/Tokyo"},
    )
    assert response.status_code == 302
    engineer.refresh_from_db()
    assert engineer.time_zone == "Asia/Tokyo"


@pytest.mark.django_db
def test_pages_show_times_in_the_viewers_zone(client_for, engineer):
    engineer.time_zone = "Asia/Tokyo"
    engineer.save()
    page = client_for(engineer).get("/")
    assert b"times shown in Asia/Tokyo" in page.content
