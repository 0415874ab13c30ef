"""Headers, cookies, sessions and the security log."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from patchplan.teams.models import Membership
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

PAGES = [
    "/",
    "/plans/",
    "/servers/",
    "/calendar/",
    "/team/",
    "/team/members/",
    "/accounts/profile/",
    "/accounts/login/",
]


def _assert_security_headers(response):
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["default-src"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_every_main_page_sends_the_security_headers(client_for, admin):
    client = client_for(admin)
    for path in PAGES:
        response = client.get(path, follow=False)
        assert response.status_code in (200, 302), path
        _assert_security_headers(response)


@pytest.mark.django_db
def test_htmx_partials_send_the_security_headers_too(client_for, admin, engineer):
    membership = Membership.objects.get(user=engineer)
    response = client_for(admin).post(
        f"/team/members/{membership.pk}/role/", {"role": "planner"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    _assert_security_headers(response)


@pytest.mark.django_db
def test_hsts_is_sent_over_https(client):
    response = client.get("/accounts/login/", secure=True)
    assert "max-age=31536000" in response["Strict-Transport-Security"]


@pytest.mark.django_db
def test_session_cookie_is_httponly_and_samesite_lax(client, engineer):
    response = client.post(
        "/accounts/login/", {"username": engineer.username, "password": PASSWORD}
    )
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def test_production_cookies_are_secure_and_argon2_hashes_passwords():
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "false",
        "SECRET_KEY": "k" * 60,
        "PATCHPLAN_VAR_DIR": str(ROOT / "var" / "settings-test"),
        "DJANGO_SETTINGS_MODULE": "patchplan.settings.production",
    }
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.PASSWORD_HASHERS[0].endswith('Argon2PasswordHasher'))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True", "True", "True", "True"], result.stderr


@pytest.mark.django_db
def test_the_session_key_rotates_at_login(client, engineer):
    client.get("/accounts/login/")
    client.session.save()
    before = client.session.session_key
    client.post("/accounts/login/", {"username": engineer.username, "password": PASSWORD})
    assert client.session.session_key != before
    assert client.session[SESSION_KEY] == str(engineer.pk)


def _logged_in_client(user):
    c = Client()
    c.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert c.get("/").status_code == 200
    return c


@pytest.mark.django_db
def test_logout_ends_the_other_sessions(engineer):
    laptop, phone = _logged_in_client(engineer), _logged_in_client(engineer)
    laptop.post("/accounts/logout/")
    assert phone.get("/").status_code == 302


@pytest.mark.django_db
def test_password_change_ends_the_other_sessions_but_keeps_this_one(engineer):
    laptop, phone = _logged_in_client(engineer), _logged_in_client(engineer)
    new = "another-long-passphrase-9"
    response = laptop.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302


@pytest.mark.django_db
def test_a_deactivated_user_is_signed_out_at_the_next_request(engineer):
    browser = _logged_in_client(engineer)
    engineer.is_active = False
    engineer.save()
    assert browser.get("/").status_code == 302


@pytest.mark.django_db
def test_login_failures_are_logged_without_the_password_and_with_newlines_escaped(client, caplog):
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        client.post(
            "/accounts/login/",
            {"username": "mallory\nevent=login_success", "password": "hunter2-secret"},
            REMOTE_ADDR="10.9.8.7",
        )
    lines = [r.getMessage() for r in caplog.records if r.name == "patchplan.security"]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("event=login_failure ")
    assert "\n" not in line
    assert 'user="mallory\\nevent=login_success"' in line
    assert "ip=10.9.8.7" in line
    assert "hunter2" not in line
    assert "+00:00" in line


@pytest.mark.django_db
def test_refused_access_is_logged(client_for, outsider, team, planner, caplog):
    from tests import factories

    plan = factories.PlanFactory(team=team, owner=planner)
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        assert client_for(outsider).get(f"/plans/{plan.pk}/").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "patchplan.security"]
    assert any(
        line.startswith("event=access_denied") and "oscar-outsider" in line for line in lines
    )


@pytest.mark.django_db
def test_a_foreign_host_header_is_refused(client):
    response = client.get("/accounts/login/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
