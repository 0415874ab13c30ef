"""Log in, throttling, password reset by email."""

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD


def _fail_login(client, username, ip="10.0.0.1"):
    return client.post(
        "/accounts/login/",
        {"username": username, "password": "wrong-password-123"},
        REMOTE_ADDR=ip,
    )


@pytest.mark.django_db
def test_login_works_with_the_right_password(client, engineer):
    response = client.post(
        "/accounts/login/", {"username": engineer.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_shows_the_form_again(client, engineer):
    response = _fail_login(client, engineer.username)
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


@pytest.mark.django_db
def test_tenth_failure_locks_the_account_even_with_the_right_password(client, engineer, settings):
    # Each failure comes from another address: the username alone locks.
    for i in range(settings.AXES_FAILURE_LIMIT):
        _fail_login(client, engineer.username, ip=f"10.0.1.{i}")
    response = client.post(
        "/accounts/login/",
        {"username": engineer.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.2.1",
    )
    assert response.status_code == 429
    assert b"Too many failed log-in attempts" in response.content


@pytest.mark.django_db
def test_failures_from_one_address_lock_that_address(client, engineer, settings):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _fail_login(client, f"nobody{i}", ip="10.0.3.3")
    response = client.post(
        "/accounts/login/",
        {"username": engineer.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.3.3",
    )
    assert response.status_code == 429


@pytest.mark.django_db
def test_unknown_and_known_users_get_the_same_answer(client, engineer, settings):
    known = [_fail_login(client, engineer.username, ip=f"10.1.0.{i}") for i in range(11)]
    unknown = [_fail_login(client, "no-such-user", ip=f"10.2.0.{i}") for i in range(11)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown]
    assert known[-1].status_code == 429

    def strip_token(response):
        # CSRF tokens (64 characters) differ per response.
        return re.sub(rb"[A-Za-z0-9]{64}", b"TOKEN", response.content)

    assert strip_token(known[0]).replace(engineer.username.encode(), b"U") == strip_token(
        unknown[0]
    ).replace(b"no-such-user", b"U")


@pytest.mark.django_db
def test_password_reset_link_uses_site_url_not_the_host_header(client, engineer, settings):
    settings.SITE_URL = "https://patchplan.example.org"
    settings.ALLOWED_HOSTS = ["evil.example.net", "testserver"]
    response = client.post(
        "/accounts/password/reset/", {"email": engineer.email}, HTTP_HOST="evil.example.net"
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [engineer.email]
    assert "https://patchplan.example.org/accounts/password/reset/" in message.body
    assert "evil.example.net" not in message.body
    html = message.alternatives[0][0]
    assert "https://patchplan.example.org/accounts/password/reset/" in html


@pytest.mark.django_db
def test_password_reset_link_sets_a_new_password(client, engineer):
    client.post("/accounts/password/reset/", {"email": engineer.email})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body)[1]
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0]
    new = "correct-horse-battery-staple-42"
    response = client.post(form_url, {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    engineer.refresh_from_db()
    assert engineer.check_password(new)


@pytest.mark.django_db
def test_short_and_common_passwords_are_refused(client_for, engineer):
    client = client_for(engineer)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"},
    )
    assert response.status_code == 200
    assert b"too short" in response.content or b"too common" in response.content
    engineer.refresh_from_db()
    assert engineer.check_password(PASSWORD)


@pytest.mark.django_db
def test_admin_site_is_for_superusers_only(client_for, admin):
    response = client_for(admin).get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_staff_without_superuser_cannot_use_the_admin(client_for, admin):
    admin.is_staff = True
    admin.save()
    response = client_for(admin).get("/admin/")
    assert response.status_code == 302
    admin.is_superuser = True
    admin.save()
    assert client_for(admin).get("/admin/").status_code == 200


def _login(client, user, ip):
    return client.post(
        "/accounts/login/", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR=ip
    )


@pytest.mark.django_db
def test_own_successful_logins_do_not_reset_failures_against_another_account(
    client, engineer, viewer, settings
):
    # The probe's bypass: from one address, 40 wrong passwords for the
    # victim, with a successful login to the attacker's own account after
    # every 9. A success used to delete every attempt from the address.
    guesses, own_logins = [], []
    for i in range(40):
        guesses.append(_fail_login(client, engineer.username, ip="10.9.9.9").status_code)
        if i % 9 == 8:
            own_logins.append(_login(client, viewer, ip="10.9.9.9").status_code)
            client.logout()
    limit = settings.AXES_FAILURE_LIMIT
    # The failure that reaches the limit is answered with the lock already.
    assert guesses == [200] * (limit - 1) + [429] * (40 - limit + 1)
    # The first own login came before the lock; the address is locked after.
    assert own_logins == [302, 429, 429, 429]
    response = _login(client, engineer, ip="10.9.9.9")
    assert response.status_code == 429
    # The lock holds for the victim's username from any other address too.
    assert _login(client, engineer, ip="10.8.8.8").status_code == 429


@pytest.mark.django_db
def test_a_success_forgives_only_that_accounts_own_failures(client, engineer, viewer, settings):
    # Someone who mistypes a few times and then logs in starts afresh...
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _fail_login(client, viewer.username, ip="10.7.7.7")
    assert _login(client, viewer, ip="10.7.7.7").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _fail_login(client, viewer.username, ip="10.7.7.7").status_code == 200
    # ...but the failures against another account from the same address stay counted.
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _fail_login(client, engineer.username, ip="10.6.6.6")
    assert _login(client, viewer, ip="10.6.6.6").status_code == 302
    client.logout()
    assert _fail_login(client, engineer.username, ip="10.6.6.6").status_code == 429
