"""Uploads over Django's limits get a clear refusal, and security events are logged.

Over DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS or
DATA_UPLOAD_MAX_NUMBER_FILES Django raises before any view runs; handler400
(patchplan.core.views.bad_request) turns that into a page naming the limit and an
`upload_refused` line. The inventory API logs `token_used` / `token_refused` and
refuses a chunked body it cannot size."""

import http.client
import json
import logging
import re
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from plans.models import Plan
from servers.models import InventorySnapshot, Server
from servers.services import token_create
from tests import factories
from tests.servers.helpers import QUERY, sample

UTC_STAMP = re.compile(r"at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")


def security_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "patchplan.security"]


@pytest.fixture
def planner_client(client_for, planner):
    return client_for(planner)


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=64 * 1024)
def test_a_body_over_the_limit_is_413_naming_the_limit_and_saves_nothing(
    planner_client, team, caplog
):
    before = Plan.objects.count()
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        response = planner_client.post(
            reverse("plan_create"), {"title": "Big", "objective": "x" * 100_000}
        )
    assert response.status_code == 413
    page = response.content.decode()
    assert "larger than the 0.0625 MB limit" in page and "Nothing was saved" in page
    assert Plan.objects.count() == before
    (line,) = [line for line in security_lines(caplog) if "event=upload_refused" in line]
    assert 'user="paul-planner"' in line and "ip=127.0.0.1" in line
    assert 'reason="RequestDataTooBig"' in line and UTC_STAMP.search(line)


@pytest.mark.django_db
def test_too_many_fields_is_400_naming_the_limit(planner_client, team, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 50
    before = Server.objects.count()
    data = {"hostname": "web-77", **{f"f{i}": "x" for i in range(60)}}
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        response = planner_client.post(reverse("server_create"), data)
    assert response.status_code == 400
    assert "more than 50 fields" in response.content.decode()
    assert Server.objects.count() == before
    assert any('reason="TooManyFieldsSent"' in line for line in security_lines(caplog))


@pytest.mark.django_db
def test_too_many_files_is_400_naming_the_limit(planner_client, team, settings, caplog):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    server = factories.ServerFactory(team=team, hostname="web-01")
    files = [SimpleUploadedFile(f"l{i}.txt", sample(QUERY)) for i in range(3)]
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        response = planner_client.post(
            reverse("server_import", args=[server.pk]), {"file": files}, format="multipart"
        )
    assert response.status_code == 400
    assert "More than 2 files sent" in response.content.decode()
    assert not InventorySnapshot.objects.exists()
    assert any('reason="TooManyFilesSent"' in line for line in security_lines(caplog))


@pytest.mark.django_db
def test_a_file_over_the_listing_limit_is_refused_with_a_message(planner_client, team):
    """A file streams to disk (not counted by DATA_UPLOAD_MAX_MEMORY_SIZE): the form refuses it."""
    server = factories.ServerFactory(team=team, hostname="web-01")
    big = SimpleUploadedFile("big.txt", b"a\t1\n" * (5 * 1024 * 1024 // 4 + 1))
    response = planner_client.post(reverse("server_import", args=[server.pk]), {"file": big})
    assert response.status_code in (200, 400, 413)
    assert "5 MB" in response.content.decode()
    assert not InventorySnapshot.objects.exists()


@pytest.mark.django_db
def test_an_ordinary_bad_request_gets_the_plain_400_page(rf, planner):
    from patchplan.core.views import bad_request

    request = rf.get("/")
    request.user = planner
    request.team = None
    response = bad_request(request, ValueError("boom"))
    assert response.status_code == 400 and b"could not be understood" in response.content


# --- The inventory API over a real socket ---------------------------------------


def _raw_push(live_server, path, headers, body_chunks=None):
    url = urlparse(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", path)
    for key, value in headers.items():
        conn.putheader(key, value)
    conn.endheaders()
    if body_chunks is not None:
        try:
            for chunk in body_chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered without reading the body: that is the point
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data or b"{}")


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_over_the_limit_without_content_length_is_refused(
    live_server, team, admin, caplog
):
    factories.ServerFactory(team=team, hostname="web-01")
    _token, raw = token_create(team=team, name="hosts", by=admin)
    chunk = b"adduser\t3.134\tall\n" * 50_000  # ~0.9 MB a chunk, 6 chunks: over 5 MB
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        status, data = _raw_push(
            live_server,
            reverse("api_inventory_push", args=["web-01"]),
            {
                "Authorization": f"Bearer {raw}",
                "Content-Type": "text/plain",
                "Transfer-Encoding": "chunked",
            },
            [chunk] * 6,
        )
    assert status in (400, 411, 413) and "Content-Length" in data["error"]
    assert not InventorySnapshot.objects.exists()
    assert any(
        "event=upload_refused" in line and 'user="token:hosts"' in line and "chunked" in line
        for line in security_lines(caplog)
    )


@pytest.mark.django_db(transaction=True)
def test_token_use_and_refusals_are_logged_without_the_secret(live_server, team, admin, caplog):
    factories.ServerFactory(team=team, hostname="web-01")
    _token, raw = token_create(team=team, name="hosts\nevent=forged", by=admin)
    path = reverse("api_inventory_push", args=["web-01"])
    body = sample(QUERY)
    headers = {"Content-Type": "text/plain", "Content-Length": str(len(body))}
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        ok = _raw_push_body(live_server, path, {**headers, "Authorization": f"Bearer {raw}"}, body)
        bad = _raw_push_body(
            live_server, path, {**headers, "Authorization": f"Bearer {raw}x"}, body
        )
        missing = _raw_push_body(live_server, path, headers, body)
    assert (ok, bad, missing) == (201, 401, 401)
    lines = security_lines(caplog)
    used = [line for line in lines if "event=token_used" in line]
    refused = [line for line in lines if "event=token_refused" in line]
    assert len(used) == 1 and len(refused) == 2
    # The token's name, with its newline escaped so it cannot forge a line.
    assert 'user="token:hosts\\nevent=forged"' in used[0]
    assert 'reason="invalid"' in refused[0] and 'reason="missing"' in refused[1]
    for line in used + refused:
        assert "\n" not in line and "ip=127.0.0.1" in line and UTC_STAMP.search(line)
        assert raw not in line and raw[4:12] not in line


def _raw_push_body(live_server, path, headers, body) -> int:
    url = urlparse(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", path, body=body, headers=headers)
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.django_db(transaction=True)
def test_a_token_whose_maker_left_is_logged_as_refused(live_server, team, admin, caplog):
    from patchplan.teams.models import Membership

    factories.ServerFactory(team=team, hostname="web-01")
    _token, raw = token_create(team=team, name="hosts", by=admin)
    Membership.objects.filter(user=admin, team=team).delete()
    body = sample(QUERY)
    with caplog.at_level(logging.INFO, logger="patchplan.security"):
        status = _raw_push_body(
            live_server,
            reverse("api_inventory_push", args=["web-01"]),
            {"Authorization": f"Bearer {raw}", "Content-Length": str(len(body))},
            body,
        )
    assert status == 403
    assert any(
        "event=token_refused" in line and 'user="token:hosts"' in line and 'reason="maker"' in line
        for line in security_lines(caplog)
    )
