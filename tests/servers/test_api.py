"""HTTP push of inventory: a real token, a real socket against the live server."""

import http.client
import json
import shlex
import shutil
import subprocess
from urllib.parse import urlparse

import pytest
from django.urls import reverse

from patchplan.teams.models import Membership
from servers.models import InventorySnapshot, InventoryToken, Server
from servers.services import token_create, token_revoke
from servers.views import push_commands
from tests import factories
from tests.services import missing

from .helpers import QUERY, SAMPLES, UPGRADABLE, sample

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(team, admin):
    token, raw = token_create(team=team, name="hosts", by=admin)
    return token, raw


@pytest.fixture
def creating_token(team, admin):
    return token_create(team=team, name="provisioning", can_create_servers=True, by=admin)


def push(live_server, hostname, body, raw=None, query="", headers=None):
    """POST over a real socket; returns (status, json)."""
    url = urlparse(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    all_headers = {"Content-Type": "text/plain", **(headers or {})}
    if raw is not None:
        all_headers["Authorization"] = f"Bearer {raw}"
    path = reverse("api_inventory_push", args=[hostname]) + query
    conn.request("POST", path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data or b"{}")


def test_push_with_a_token_imports_and_answers_201_with_counts(live_server, team, token):
    server = factories.ServerFactory(team=team, hostname="web-01")
    status, data = push(live_server, "web-01", sample(QUERY), token[1])
    assert status == 201
    assert data["packages"] == 832 and data["created"] is True and data["format"] == "dpkg-query"
    status, data = push(live_server, "web-01", sample(UPGRADABLE), token[1])
    assert status == 201 and data["pending_security"] > 0
    snap = InventorySnapshot.objects.filter(server=server).first()
    assert snap.source == "api" and snap.token_id == token[0].pk
    token[0].refresh_from_db()
    assert token[0].last_used_at is not None


def test_a_repeat_push_is_recognised(live_server, team, token):
    factories.ServerFactory(team=team, hostname="web-01")
    push(live_server, "web-01", sample(QUERY), token[1])
    status, data = push(live_server, "web-01", sample(QUERY), token[1])
    assert status == 200 and data["created"] is False and data["packages"] == 832
    assert InventorySnapshot.objects.count() == 1


def test_without_or_with_a_bad_token_it_is_401(live_server, team, token):
    factories.ServerFactory(team=team, hostname="web-01")
    assert push(live_server, "web-01", sample(QUERY))[0] == 401
    assert push(live_server, "web-01", sample(QUERY), "ppi_not-a-real-token")[0] == 401
    token_revoke(token=token[0])
    status, data = push(live_server, "web-01", sample(QUERY), token[1])
    assert status == 401 and "revoked" in data["error"]
    assert not InventorySnapshot.objects.exists()


def test_an_unknown_server_is_404_unless_the_token_may_create(
    live_server, team, token, creating_token
):
    status, data = push(live_server, "new-01", sample(QUERY), token[1])
    assert status == 404 and "new-01" in data["error"]
    assert not Server.objects.filter(hostname="new-01").exists()
    status, data = push(live_server, "New-01", sample(QUERY), creating_token[1])
    assert status == 201 and data["created_server"] is True
    assert Server.objects.get(team=team, hostname="new-01").package_count == 832


def test_a_bad_listing_for_a_new_server_creates_nothing(live_server, team, creating_token):
    status, data = push(live_server, "new-01", b"garbage that is no listing\n", creating_token[1])
    assert status == 400 and not Server.objects.exists()


def test_a_malformed_line_is_400_with_its_number(live_server, team, token):
    factories.ServerFactory(team=team, hostname="web-01")
    status, data = push(live_server, "web-01", b"adduser\t3.134\tall\n%%%\n", token[1])
    assert status == 400 and data["line"] == 2 and data["error"].startswith("line 2:")
    assert not InventorySnapshot.objects.exists()


def test_over_the_limit_is_413_from_content_length(live_server, team, token):
    factories.ServerFactory(team=team, hostname="web-01")
    body = b"a\t1\n" * (5 * 1024 * 1024 // 4 + 1)
    status, data = push(live_server, "web-01", body, token[1])
    assert status == 413 and "5 MB" in data["error"]
    assert not InventorySnapshot.objects.exists()


def test_413_is_answered_without_reading_the_body(live_server, team, token):
    """The server answers from the header alone: only the headers are sent."""
    factories.ServerFactory(team=team, hostname="web-01")
    url = urlparse(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", reverse("api_inventory_push", args=["web-01"]))
    conn.putheader("Authorization", f"Bearer {token[1]}")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()


def test_a_token_of_another_team_cannot_reach_this_teams_server(
    live_server, team, other_team, outsider
):
    factories.ServerFactory(team=team, hostname="web-01")
    _token, raw = token_create(team=other_team, name="red", can_create_servers=True, by=outsider)
    status, _data = push(live_server, "web-01", sample(QUERY), raw)
    # Their token creates a red web-01; ours is untouched.
    assert status == 201
    assert Server.objects.get(team=team, hostname="web-01").package_count == 0


def test_a_token_whose_maker_left_the_team_is_403(live_server, team, admin, token):
    factories.ServerFactory(team=team, hostname="web-01")
    Membership.objects.filter(user=admin, team=team).delete()
    status, data = push(live_server, "web-01", sample(QUERY), token[1])
    assert status == 403 and not InventorySnapshot.objects.exists()


def test_binary_body_is_refused_cleanly(live_server, team, token):
    factories.ServerFactory(team=team, hostname="web-01")
    status, data = push(live_server, "web-01", b"\x00\x01\x02binary", token[1])
    assert status == 400 and "not a text listing" in data["error"]


def test_get_is_405(client, team, token):
    assert client.get(reverse("api_inventory_push", args=["web-01"])).status_code == 405


def test_token_hash_not_raw_is_stored(token):
    assert not InventoryToken.objects.filter(token_hash=token[1]).exists()


def test_the_one_liner_shown_on_the_server_page_works(live_server, team, token, settings):
    """The page's own command, run by bash with curl, the listing piped in."""
    curl = shutil.which("curl")
    if curl is None:
        missing("needs curl (apt-get install curl)")
    settings.SITE_URL = live_server.url
    server = factories.ServerFactory(team=team, hostname="web-01")
    command = push_commands(server)["packages"]
    # dpkg-query is not on the test machine: the real listing stands in for it.
    pipeline = "cat " + shlex.quote(str(SAMPLES / QUERY)) + " |" + command.split("|", 1)[1]
    done = subprocess.run(
        ["bash", "-c", pipeline],
        env={"PATCHPLAN_TOKEN": token[1], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["packages"] == 832
    server.refresh_from_db()
    assert server.package_count == 832
