"""Server pages: list, bulk actions, server page, uploads, diff, fleet views, tokens, CSV."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from servers.models import InventorySnapshot, InventoryToken, Server, ServerPackage, Tag
from tests import factories

from .helpers import QUERY, UPGRADABLE, query_listing, sample, upgradable_listing

pytestmark = pytest.mark.django_db


def _load(server, data):
    return inventory_import(server=server, data=data, source=SnapshotSource.COMMAND)


@pytest.fixture
def fleet(team):
    web = factories.ServerFactory(
        team=team, hostname="web-01", environment="production", criticality="critical"
    )
    db = factories.ServerFactory(team=team, hostname="db-01", environment="staging")
    old = factories.ServerFactory(team=team, hostname="old-01", environment="development")
    _load(web, query_listing({"openssl": "3.0.11-1~deb12u2", "curl": "7.88.1-10"}))
    _load(
        web,
        upgradable_listing(
            [("openssl", "bookworm-security", "3.0.15-1~deb12u1", "3.0.11-1~deb12u2")]
        ),
    )
    _load(db, query_listing({"openssl": "3.0.15-1~deb12u1", "postgresql-15": "15.8-0+deb12u1"}))
    tag = Tag.objects.create(team=team, name="frontend")
    web.tags.add(tag)
    return {"web": web, "db": db, "old": old}


# --- list -----------------------------------------------------------------------------


def _hostnames(response):
    return [s.hostname for s in response.context["page"]]


def test_list_filters_by_environment_security_tag_and_search(client_for, viewer, fleet):
    client = client_for(viewer)
    url = reverse("server_list")
    assert _hostnames(client.get(url)) == ["db-01", "old-01", "web-01"]
    assert _hostnames(client.get(url, {"environment": "staging"})) == ["db-01"]
    assert _hostnames(client.get(url, {"security": "1"})) == ["web-01"]
    assert _hostnames(client.get(url, {"tag": "frontend"})) == ["web-01"]
    assert _hostnames(client.get(url, {"q": "frontend"})) == ["web-01"]
    assert _hostnames(client.get(url, {"q": "db"})) == ["db-01"]
    assert _hostnames(client.get(url, {"criticality": "critical"})) == ["web-01"]
    # Never imported counts as stale; fresh imports do not.
    assert _hostnames(client.get(url, {"stale": "7"})) == ["old-01"]


def test_list_sorts_by_whitelisted_keys_only(client_for, viewer, fleet):
    client = client_for(viewer)
    url = reverse("server_list")
    assert _hostnames(client.get(url, {"sort": "-security"}))[0] == "web-01"
    assert _hostnames(client.get(url, {"sort": "-hostname"})) == ["web-01", "old-01", "db-01"]
    # Anything else falls back to hostname, never into order_by().
    response = client.get(url, {"sort": "team__name"})
    assert response.status_code == 200 and _hostnames(response)[0] == "db-01"


def test_list_shows_only_the_users_team(client_for, outsider, fleet, other_team):
    factories.ServerFactory(team=other_team, hostname="red-01")
    response = client_for(outsider).get(reverse("server_list"))
    assert _hostnames(response) == ["red-01"]


def test_bulk_tag_adds_tags_to_the_selected_servers(client_for, planner, fleet):
    ids = [fleet["db"].pk, fleet["old"].pk]
    response = client_for(planner).post(
        reverse("server_bulk"), {"action": "tag", "ids": ids, "tags": "eu-west, db"}
    )
    assert response.status_code == 302
    assert set(fleet["db"].tags.values_list("name", flat=True)) == {"eu-west", "db"}
    assert set(fleet["old"].tags.values_list("name", flat=True)) == {"eu-west", "db"}


def test_bulk_refuses_another_teams_server_id(client_for, planner, fleet, other_team):
    foreign = factories.ServerFactory(team=other_team, hostname="red-01")
    response = client_for(planner).post(
        reverse("server_bulk"), {"action": "tag", "ids": [fleet["db"].pk, foreign.pk], "tags": "x"}
    )
    assert response.status_code == 404
    assert not Tag.objects.filter(name="x").exists()


# "Add to plan" is a plans view (plans.views.server_bulk) the list's bulk form posts to.


def test_bulk_adds_servers_to_a_plan(client_for, planner, fleet, team):
    plan = factories.PlanFactory(team=team, owner=planner)
    back = reverse("server_list") + "?page=1"
    response = client_for(planner).post(
        reverse("plan_add_servers"),
        {"action": "plan", "ids": [fleet["web"].pk], "plan": plan.pk, "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert list(plan.servers.all()) == [fleet["web"]]


def test_bulk_refuses_another_teams_plan(client_for, planner, fleet, other_team, outsider):
    plan = factories.PlanFactory(team=other_team, owner=outsider)
    response = client_for(planner).post(
        reverse("plan_add_servers"), {"action": "plan", "ids": [fleet["web"].pk], "plan": plan.pk}
    )
    assert response.status_code == 404 and not plan.servers.exists()


def test_bulk_add_to_plan_refuses_another_teams_server(
    client_for, planner, fleet, team, other_team
):
    plan = factories.PlanFactory(team=team, owner=planner)
    foreign = factories.ServerFactory(team=other_team, hostname="red-02")
    response = client_for(planner).post(
        reverse("plan_add_servers"), {"ids": [fleet["web"].pk, foreign.pk], "plan": plan.pk}
    )
    assert response.status_code == 404 and not plan.servers.exists()


def test_bulk_add_to_plan_is_forbidden_to_a_viewer(client_for, viewer, fleet, team, planner):
    plan = factories.PlanFactory(team=team, owner=planner)
    response = client_for(viewer).post(
        reverse("plan_add_servers"), {"ids": [fleet["web"].pk], "plan": plan.pk}
    )
    assert response.status_code == 403 and not plan.servers.exists()


def test_server_list_bulk_form_posts_each_action_to_its_app(client_for, planner, fleet):
    html = client_for(planner).get(reverse("server_list")).content.decode()
    assert f'formaction="{reverse("server_bulk")}"' in html
    assert f'formaction="{reverse("plan_add_servers")}"' in html


def test_bulk_tag_is_forbidden_to_a_viewer(client_for, viewer, fleet):
    response = client_for(viewer).post(
        reverse("server_bulk"), {"action": "tag", "ids": [fleet["db"].pk], "tags": "x"}
    )
    assert response.status_code == 403 and not Tag.objects.filter(name="x").exists()


# --- server page ------------------------------------------------------------------------


def test_server_page_shows_packages_pending_security_first_and_plans(
    client_for, viewer, fleet, team, planner
):
    plan = factories.PlanFactory(team=team, owner=planner, title="OpenSSL patch")
    plan.servers.add(fleet["web"])
    response = client_for(viewer).get(reverse("server_detail", args=[fleet["web"].pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "OpenSSL patch" in body and "3.0.15-1~deb12u1" in body and "security" in body
    assert [p.name for p in response.context["package_page"]] == ["curl", "openssl"]
    # Viewers get no import or edit forms.
    assert b'data-testid="import-form"' not in response.content


def test_server_page_shows_the_push_one_liner_with_the_site_url(
    client_for, engineer, fleet, settings
):
    settings.SITE_URL = "https://patchplan.example"
    response = client_for(engineer).get(reverse("server_detail", args=[fleet["web"].pk]))
    command = response.context["push"]["packages"]
    assert command.startswith("dpkg-query -W")
    assert command.endswith("https://patchplan.example/api/v1/servers/web-01/inventory")
    assert b'data-testid="import-form"' in response.content


def test_server_page_package_search_answers_htmx_with_the_partial(client_for, viewer, fleet):
    response = client_for(viewer).get(
        reverse("server_detail", args=[fleet["web"].pk]),
        {"q": "ssl", "part": "packages"},
        HTTP_HX_REQUEST="true",
    )
    assert [p.name for p in response.context["package_page"]] == ["openssl"]
    assert b"<html" not in response.content


def test_outsider_gets_404_for_a_server(client_for, outsider, fleet):
    response = client_for(outsider).get(reverse("server_detail", args=[fleet["web"].pk]))
    assert response.status_code == 404


def test_upload_imports_a_file_end_to_end(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    upload = SimpleUploadedFile("pkgs.tsv", sample(QUERY), content_type="text/plain")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]), {"file": upload, "format": ""}
    )
    assert response.status_code == 302
    server.refresh_from_db()
    assert server.package_count == 832
    snap = InventorySnapshot.objects.get(server=server)
    assert snap.source == "upload" and snap.created_by == engineer


def test_paste_imports_pending_updates(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]),
        {"text": sample(UPGRADABLE).decode(), "format": "apt-upgradable"},
    )
    assert response.status_code == 302
    server.refresh_from_db()
    assert server.pending_security > 0
    assert InventorySnapshot.objects.get(server=server).source == "paste"


def test_a_malformed_paste_shows_the_line_next_to_the_field(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]),
        {"text": "openssl\t3.0.11-1\tamd64\ncurl\t7.88\tamd64\n%%% broken\n"},
    )
    assert response.status_code == 400
    assert response.context["import_form"].errors["text"][0].startswith("line 3:")
    assert not InventorySnapshot.objects.exists() and not ServerPackage.objects.exists()


def test_an_unrecognised_upload_names_the_supported_formats(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    upload = SimpleUploadedFile("x.txt", b"Hello, I am a shopping list\n")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]), {"file": upload}
    )
    error = response.context["import_form"].errors["file"][0]
    assert "dpkg-query -W" in error and "rpm -qa" in error
    assert not InventorySnapshot.objects.exists()


def test_an_oversized_upload_is_refused_before_reading(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    upload = SimpleUploadedFile("big.txt", b"a\t1\n" * (5 * 1024 * 1024 // 4 + 1))
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]), {"file": upload}
    )
    assert response.status_code == 400
    assert "5 MB" in response.context["import_form"].errors["file"][0]
    assert not InventorySnapshot.objects.exists()


def test_a_binary_upload_is_refused(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    upload = SimpleUploadedFile("x.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]), {"file": upload}
    )
    assert "not a text listing" in response.context["import_form"].errors["file"][0]
    assert not InventorySnapshot.objects.exists()


def test_a_viewer_may_not_import(client_for, viewer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    response = client_for(viewer).post(
        reverse("server_import", args=[server.pk]), {"text": "openssl\t3.0\n"}
    )
    assert response.status_code == 403 and not InventorySnapshot.objects.exists()


def test_script_tags_from_listings_and_hostnames_are_escaped(client_for, admin, team):
    # A hostname cannot hold "<" (validated), so the script rides in FQDN and notes.
    server = factories.ServerFactory(
        team=team,
        hostname="web-01",
        fqdn="<script>alert(1)</script>",
        notes="<script>alert(2)</script>",
    )
    _load(server, upgradable_listing([("openssl", "<script>alert(3)</script>", "3.1", "3.0")]))
    _load(server, query_listing({"openssl": "3.0"}))
    for url in (
        reverse("server_detail", args=[server.pk]),
        reverse("server_list") + "?q=%3Cscript%3E",
        reverse("server_fleet_search") + "?name=%3Cscript%3E&below=%3Cscript%3E",
    ):
        body = client_for(admin).get(url).content.decode()
        assert "<script>alert" not in body, url
    body = client_for(admin).get(reverse("server_detail", args=[server.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in body


def test_a_listing_with_a_script_tag_name_is_refused_not_stored(client_for, engineer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    response = client_for(engineer).post(
        reverse("server_import", args=[server.pk]),
        {"text": "<script>alert(1)</script>\t1.0\tamd64\n", "format": "dpkg-query"},
    )
    assert response.status_code == 400
    assert "<script>alert" not in response.content.decode()
    assert not ServerPackage.objects.exists()


def test_diff_page_compares_two_snapshots(client_for, viewer, team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    a = _load(server, query_listing({"openssl": "3.0.11-1", "gone": "1"})).snapshot
    b = _load(server, query_listing({"openssl": "3.0.15-1", "new": "2"})).snapshot
    response = client_for(viewer).get(
        reverse("server_diff", args=[server.pk]), {"a": a.pk, "b": b.pk}
    )
    kinds = {(c.name, c.kind) for c in response.context["changes"]}
    assert kinds == {("openssl", "upgraded"), ("gone", "removed"), ("new", "added")}
    assert "3.0.11-1" in response.content.decode()


def test_diff_page_ignores_another_servers_snapshot(client_for, viewer, team, other_team):
    server = factories.ServerFactory(team=team, hostname="app-01")
    foreign = factories.ServerFactory(team=other_team, hostname="red-01")
    theirs = _load(foreign, query_listing({"secret-pkg": "1"})).snapshot
    _load(server, query_listing({"openssl": "1"}))
    response = client_for(viewer).get(reverse("server_diff", args=[server.pk]), {"a": theirs.pk})
    assert "secret-pkg" not in response.content.decode()


# --- create, edit, delete ------------------------------------------------------------------


def test_planner_creates_a_server_with_tags(client_for, planner, team):
    response = client_for(planner).post(
        reverse("server_create"),
        {
            "hostname": "Web-09.Example",
            "environment": "staging",
            "criticality": "high",
            "tags": "web, eu",
        },
    )
    server = Server.objects.get(team=team)
    assert response.status_code == 302 and server.hostname == "web-09.example"
    assert set(server.tags.values_list("name", flat=True)) == {"web", "eu"}


@pytest.mark.parametrize("hostname", ["bad host", "-leading", "a" * 64, "x_y", "<script>"])
def test_invalid_hostnames_are_refused(client_for, planner, team, hostname):
    response = client_for(planner).post(
        reverse("server_create"),
        {"hostname": hostname, "environment": "staging", "criticality": "high"},
    )
    assert response.status_code == 400 and response.context["form"].errors["hostname"]
    assert not Server.objects.exists()


def test_hostname_is_unique_per_team(client_for, planner, team, other_team):
    factories.ServerFactory(team=other_team, hostname="web-01")
    client = client_for(planner)
    data = {"hostname": "web-01", "environment": "staging", "criticality": "high"}
    assert client.post(reverse("server_create"), data).status_code == 302
    response = client.post(reverse("server_create"), data)
    assert "already has a server" in response.context["form"].errors["hostname"][0]


def test_edit_changes_the_server_and_bad_input_shows_errors(client_for, planner, fleet):
    client = client_for(planner)
    url = reverse("server_edit", args=[fleet["db"].pk])
    data = {
        "edit-hostname": "db-02",
        "edit-environment": "production",
        "edit-criticality": "low",
        "edit-tags": "pg",
    }
    assert client.post(url, data).status_code == 302
    fleet["db"].refresh_from_db()
    assert fleet["db"].hostname == "db-02" and fleet["db"].criticality == "low"
    response = client.post(url, {**data, "edit-hostname": "web-01"})
    assert response.status_code == 400 and response.context["edit_form"].errors["hostname"]


def test_delete_removes_the_server_and_its_inventory(client_for, planner, fleet):
    response = client_for(planner).post(reverse("server_delete", args=[fleet["web"].pk]))
    assert response.status_code == 302
    assert not Server.objects.filter(hostname="web-01").exists()
    assert not ServerPackage.objects.filter(server_id=fleet["web"].pk).exists()


def test_engineer_may_not_delete(client_for, engineer, fleet):
    response = client_for(engineer).post(reverse("server_delete", args=[fleet["web"].pk]))
    assert response.status_code == 403 and Server.objects.filter(pk=fleet["web"].pk).exists()


# --- fleet ---------------------------------------------------------------------------------


def test_fleet_search_finds_servers_below_a_version(client_for, viewer, fleet, other_team):
    foreign = factories.ServerFactory(team=other_team, hostname="red-01")
    _load(foreign, query_listing({"openssl": "1.0"}))
    client = client_for(viewer)
    url = reverse("server_fleet_search")
    hits = client.get(url, {"name": "openssl"}).context["hits"]
    assert [h.hostname for h in hits] == ["db-01", "web-01"]
    # ~ sorts before the release: 3.0.15-1~deb12u1 is below 3.0.15-1.
    hits = client.get(url, {"name": "openssl", "below": "3.0.15-1~deb12u1"}).context["hits"]
    assert [(h.hostname, h.candidate, h.is_security) for h in hits] == [
        ("web-01", "3.0.15-1~deb12u1", True)
    ]
    hits = client.get(url, {"name": "openssl", "below": "3.0.15-1"}).context["hits"]
    assert len(hits) == 2
    hits = client.get(url, {"name": "openssl", "environment": "staging"}).context["hits"]
    assert [h.hostname for h in hits] == ["db-01"]


def test_fleet_search_exports_csv(client_for, viewer, fleet):
    response = client_for(viewer).get(
        reverse("server_fleet_search"), {"name": "openssl", "export": "csv"}
    )
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "hostname,environment,version,architecture,candidate,security"
    assert lines[1:] == [
        "db-01,staging,3.0.15-1~deb12u1,amd64,,",
        "web-01,production,3.0.11-1~deb12u2,amd64,3.0.15-1~deb12u1,yes",
    ]


def test_fleet_updates_view_counts_per_environment_and_package(client_for, viewer, fleet):
    context = client_for(viewer).get(reverse("server_fleet_updates")).context
    per_env = {row["environment"]: row for row in context["per_env"]}
    assert per_env["production"]["with_security"] == 1
    assert per_env["staging"]["with_security"] == 0
    assert [s.hostname for s in context["exposed"]] == ["web-01"]
    assert context["packages"][0]["name"] == "openssl" and context["packages"][0]["security"] == 1


# --- tokens ------------------------------------------------------------------------------


def test_admin_creates_a_token_shown_once_and_stored_hashed(client_for, admin, team):
    client = client_for(admin)
    response = client.post(
        reverse("team_api_tokens"), {"name": "ansible", "can_create_servers": "on"}
    )
    raw = response.context["raw"]
    assert raw.startswith("ppi_") and raw in response.content.decode()
    token = InventoryToken.objects.get(team=team)
    assert token.can_create_servers and raw not in token.token_hash and len(token.token_hash) == 64
    assert raw not in client.get(reverse("team_api_tokens")).content.decode()


def test_a_planner_may_not_create_tokens(client_for, planner, team):
    response = client_for(planner).post(reverse("team_api_tokens"), {"name": "x"})
    assert response.status_code == 403 and not InventoryToken.objects.exists()


def test_admin_revokes_a_token(client_for, admin, team):
    client = client_for(admin)
    client.post(reverse("team_api_tokens"), {"name": "ansible"})
    token = InventoryToken.objects.get()
    client.post(reverse("team_api_token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_outsider_cannot_revoke_a_token(client_for, admin, outsider, team):
    client_for(admin).post(reverse("team_api_tokens"), {"name": "ansible"})
    token = InventoryToken.objects.get()
    response = client_for(outsider).post(reverse("team_api_token_revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_edit_form_is_shown_on_request_to_those_who_may_edit(client_for, planner, viewer, fleet):
    url = reverse("server_detail", args=[fleet["web"].pk])
    response = client_for(planner).get(url, {"edit": "1"})
    form = response.context["edit_form"]
    assert form["hostname"].value() == "web-01" and form["tags"].value() == "frontend"
    assert planner in form.fields["owner"].queryset
    assert client_for(planner).get(url).context["edit_form"] is None
    assert client_for(viewer).get(url, {"edit": "1"}).context["edit_form"] is None


def test_server_list_rows_escape_every_value(client_for, admin, team):
    # Written past the services' validation, as old or imported data might be.
    server = factories.ServerFactory(team=team, hostname="web-01", os_name="<script>a()</script>")
    server.tags.add(Tag.objects.create(team=team, name="<script>b()</script>"))
    admin.first_name, admin.last_name = "<script>c()</script>", ""
    admin.save()
    server.owner = admin
    server.save()
    body = client_for(admin).get(reverse("server_list")).content.decode()
    assert "<script>a()" not in body and "&lt;script&gt;a()" in body
    assert "<script>b()" not in body and "&lt;script&gt;b()" in body
    assert "<script>c()" not in body


def test_add_to_plan_picker_loads_on_demand_with_the_teams_open_plans(
    client_for, planner, team, other_team, outsider, viewer
):
    from plans.choices import PlanStatus

    mine = factories.PlanFactory(team=team, owner=planner, title="Patch web")
    factories.PlanFactory(team=team, owner=planner, title="Done", status=PlanStatus.COMPLETED)
    factories.PlanFactory(team=other_team, owner=outsider, title="Their plan")
    page = client_for(planner).get(reverse("server_list")).content.decode()
    assert "Patch web" not in page and reverse("plan_picker") in page
    options = client_for(planner).get(reverse("plan_picker")).content.decode()
    assert f'<option value="{mine.pk}">Patch web</option>' in options
    assert "Done" not in options and "Their plan" not in options
    assert client_for(viewer).get(reverse("plan_picker")).status_code == 403
    assert "Patch web" not in client_for(outsider).get(reverse("plan_picker")).content.decode()
