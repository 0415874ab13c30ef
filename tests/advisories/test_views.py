"""Vulnerability pages, the server section, Plan the fix, feeds page, per team."""

import csv
import io

import pytest
from django.urls import reverse

from plans.models import Plan
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from servers.parsers import DPKG_QUERY_COMMAND, parse_inventory
from tests.factories import ServerFactory

from .conftest import DATA

pytestmark = pytest.mark.django_db

SOURCE_LISTING = (DATA / "debian12-dpkg-query-source.tsv").read_bytes()


@pytest.fixture
def fleet(team, other_team, feeds):
    """Three servers of the team on the real Debian 12 listing with source columns,
    one of another team."""
    servers = {
        "web-prd-01": ServerFactory(
            team=team, hostname="web-prd-01", environment="production", criticality="critical"
        ),
        "web-stg-01": ServerFactory(team=team, hostname="web-stg-01", environment="staging"),
        "db-prd-01": ServerFactory(team=team, hostname="db-prd-01", environment="production"),
        "theirs": ServerFactory(team=other_team, hostname="theirs-01"),
    }
    for server in servers.values():
        inventory_import(server=server, data=SOURCE_LISTING, source=SnapshotSource.UPLOAD)
    return servers


def test_source_listing_parses_and_is_the_server_page_one_liner(client_for, engineer, fleet):
    parsed = parse_inventory(SOURCE_LISTING)
    by_name = {p.name: p for p in parsed.packages}
    assert len(parsed.packages) == 832
    assert (by_name["libssl3"].source_name, by_name["libssl3"].source_version) == (
        "openssl",
        "3.0.19-1~deb12u2",
    )
    assert (by_name["bash"].version, by_name["bash"].source_version) == ("5.2.15-2+b8", "5.2.15-2")
    page = client_for(engineer).get(reverse("server_detail", args=[fleet["web-prd-01"].pk]))
    # The page shows the command whose five columns the listing above has.
    assert DPKG_QUERY_COMMAND.count("${") == 5
    assert DPKG_QUERY_COMMAND.replace("'", "&#x27;") in page.content.decode()


def test_server_section_lists_open_cves_and_source_coverage(
    client_for, viewer, fleet, django_assert_max_num_queries
):
    client = client_for(viewer)
    url = reverse("server_vulnerabilities", args=[fleet["web-prd-01"].pk])
    # session, user, memberships, server, coverage count, matches
    with django_assert_max_num_queries(7):
        body = client.get(url).content.decode()
    assert "832 of 832 packages matched to a source" in body
    assert body.index("CVE-2026-21001") < body.index("CVE-2023-45853")  # exploited first
    assert "CVE-2026-30200" in body and "no fix yet" in body
    assert "CVE-2024-25062" not in body  # not affected in bookworm


def test_without_source_columns_fewer_packages_are_matched(client_for, viewer, team, feeds):
    server = ServerFactory(team=team)
    plain = (DATA.parent.parent / "servers" / "samples" / "debian12-dpkg-query.tsv").read_bytes()
    inventory_import(server=server, data=plain, source=SnapshotSource.UPLOAD)
    body = (
        client_for(viewer).get(reverse("server_vulnerabilities", args=[server.pk])).content.decode()
    )
    # Only binaries named like a source the feed knows: bash, curl, openssl, tar...
    assert "of 832 packages matched to a source" in body
    assert "832 of 832" not in body
    assert "CVE-2026-21001" in body  # the openssl binary itself is installed


def test_list_is_ranked_filtered_and_exported(client_for, viewer, fleet):
    client = client_for(viewer)
    body = client.get(reverse("vulnerability_list")).content.decode()
    order = [body.index(i) for i in ("CVE-2026-21001", "CVE-2023-45853", "CVE-2026-30100")]
    assert order == sorted(order)  # known exploited, then medium, then low
    assert "theirs-01" not in body
    filtered = client.get(reverse("vulnerability_list"), {"fix": "none"}).content.decode()
    assert "CVE-2026-30200" in filtered and "CVE-2026-21001" not in filtered
    response = client.get(reverse("vulnerability_list"), {"format": "csv", "severity": "critical"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][:5] == ["CVE-2026-21001", "critical", "9.8", "yes", "openssl"]
    assert rows[1][5:8] == ["3", "2", "1"]
    assert len(rows) == 2


def test_list_query_count_does_not_grow(
    client_for, viewer, fleet, team, django_assert_max_num_queries
):
    for i in range(5):
        server = ServerFactory(team=team, hostname=f"extra-{i}")
        inventory_import(server=server, data=SOURCE_LISTING, source=SnapshotSource.UPLOAD)
    client = client_for(viewer)
    # session, user, memberships, count, page, source states, fleet run
    with django_assert_max_num_queries(7):
        assert client.get(reverse("vulnerability_list")).status_code == 200


def test_cve_page_shows_only_this_teams_servers(client_for, viewer, outsider, fleet):
    url = reverse("vulnerability_detail", args=["CVE-2026-21001"])
    body = client_for(viewer).get(url).content.decode()
    assert "web-prd-01" in body and "3.0.22-1~deb12u2" in body
    assert "theirs-01" not in body
    assert "Plan the fix" not in body  # a viewer may not plan
    other = client_for(outsider).get(url).content.decode()
    assert "web-prd-01" not in other and "theirs-01" in other


def test_outsider_gets_404_for_the_server_section(client_for, outsider, fleet):
    url = reverse("server_vulnerabilities", args=[fleet["web-prd-01"].pk])
    assert client_for(outsider).get(url).status_code == 404


def test_plan_the_fix_creates_a_security_plan(client_for, planner, fleet):
    response = client_for(planner).post(reverse("vulnerability_plan_fix", args=["CVE-2026-21001"]))
    plan = Plan.objects.get()
    assert plan.title == "Fix CVE-2026-21001 (openssl)"
    assert response.status_code == 302
    assert response["Location"] == reverse("plan_detail", args=[plan.pk])
    assert plan.kind == "security_patch" and plan.risk == "critical"
    assert {s.hostname for s in plan.servers.all()} == {"web-prd-01", "web-stg-01", "db-prd-01"}
    # libssl3 is built from openssl: it gets openssl's fixed version.
    assert plan.package_targets == {
        "libssl-dev": "3.0.22-1~deb12u2",
        "libssl3": "3.0.22-1~deb12u2",
        "openssl": "3.0.22-1~deb12u2",
    }
    assert set(plan.packages) == set(plan.package_targets)
    assert {r.identifier for r in plan.references.all()} >= {"CVE-2026-21001", "DSA-6100-1"}
    assert plan.test_procedure.index("web-stg-01") < plan.test_procedure.index("web-prd-01")
    page = client_for(planner).get(reverse("vulnerability_detail", args=["CVE-2026-21001"]))
    assert plan.title in page.content.decode()


def test_plan_the_fix_for_a_selection(client_for, planner, fleet):
    client = client_for(planner)
    listing = client.get(reverse("vulnerability_list")).content.decode()
    assert 'name="ident" value="CVE-2026-21001"' in listing
    response = client.post(
        reverse("vulnerability_selection_plan_fix"),
        {"ident": ["CVE-2023-45853", "CVE-2026-21001"], "query": "severity=critical"},
    )
    plan = Plan.objects.get()
    assert response["Location"] == reverse("plan_detail", args=[plan.pk])
    assert plan.kind == "security_patch" and plan.risk == "critical"  # the worst of the two
    assert plan.title.startswith("Fix CVE-2026-21001, CVE-2023-45853 (")  # exploited first
    assert {s.hostname for s in plan.servers.all()} == {"web-prd-01", "web-stg-01", "db-prd-01"}
    assert plan.test_procedure.index("web-stg-01") < plan.test_procedure.index("db-prd-01")
    refs = {r.identifier for r in plan.references.all()}
    assert {"CVE-2026-21001", "CVE-2023-45853", "DSA-6100-1"} <= refs
    assert plan.package_targets["libssl3"] == "3.0.22-1~deb12u2"
    assert plan.package_targets["zlib1g"] == "1:1.2.13.dfsg-1+deb12u1"
    assert "CVE-2023-45853" in plan.objective and "CVE-2026-21001" in plan.objective


def test_fix_targets_highest_per_release_lowest_across_releases():
    from patchplan.advisories.services import _fix_targets

    rows = [
        ("openssl", "bookworm", "3.0.17-1~deb12u3", "deb"),
        ("openssl", "bookworm", "3.0.22-1~deb12u2", "deb"),
        ("openssl", "trixie", "3.5.4-1", "deb"),
        ("pkg", "bookworm", "1.0-9", "deb"),
        ("pkg", "bookworm", "1.0-10", "deb"),  # above 1.0-9, though not as a string
        ("nofix", "bookworm", "", "deb"),
        ("sudo", "almalinux:9", "1.9.5p2-9.el9", "rpm"),
        ("sudo", "almalinux:9", "1.9.5p2-10.el9_3", "rpm"),
    ]
    assert _fix_targets(rows) == {
        "openssl": "3.0.22-1~deb12u2",
        "pkg": "1.0-10",
        "sudo": "1.9.5p2-10.el9_3",
    }


@pytest.mark.parametrize(
    ("idents", "message"),
    [
        ([], "Select at least one vulnerability to plan its fix."),
        (["CVE-2099-0001"], "Unknown vulnerability: CVE-2099-0001."),
        # Only another team's server runs the vulnerable curl.
        (
            ["CVE-2026-21001", "CVE-2026-40001"],
            "No server of this team is affected by CVE-2026-40001.",
        ),
        # Not affected in bookworm: affects nothing at all.
        (["CVE-2024-25062"], "No server of this team is affected by CVE-2024-25062."),
        ([f"CVE-2026-{i:05d}" for i in range(60)], "Select at most 50 vulnerabilities"),
    ],
)
def test_a_bad_selection_is_refused_with_a_message(
    client_for, planner, other_team, fleet, idents, message
):
    from patchplan.advisories.models import Vulnerability

    Vulnerability.objects.bulk_create(
        [Vulnerability(ident=f"CVE-2026-{i:05d}") for i in range(60)], ignore_conflicts=True
    )
    theirs = ServerFactory(team=other_team, hostname="theirs-02")
    inventory_import(
        server=theirs, data="curl\t7.88.1-10+deb12u6\tamd64\n", source=SnapshotSource.UPLOAD
    )
    client = client_for(planner)
    url = reverse("vulnerability_selection_plan_fix")
    response = client.post(url, {"ident": idents, "query": "fix=available&bogus=1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("vulnerability_list") + "?fix=available"
    page = client.get(response["Location"]).content.decode()
    assert message in page
    assert not Plan.objects.exists()


def test_plan_the_fix_from_a_server_page(client_for, planner, fleet):
    client = client_for(planner)
    server = fleet["web-stg-01"]
    section = client.get(reverse("server_vulnerabilities", args=[server.pk])).content.decode()
    assert 'name="ident" value="CVE-2026-21001"' in section
    url = reverse("vulnerability_selection_plan_fix")
    refused = client.post(url, {"server": server.pk})
    assert refused["Location"] == reverse("server_detail", args=[server.pk])
    assert "Select at least one vulnerability" in client.get(refused["Location"]).content.decode()
    response = client.post(url, {"server": server.pk, "ident": ["CVE-2026-21001"]})
    plan = Plan.objects.get()
    assert response["Location"] == reverse("plan_detail", args=[plan.pk])
    # Every affected server of the team, not only the page's.
    assert plan.servers.count() == 3
    # Another team's server: 404, nothing planned.
    theirs = client.post(url, {"server": fleet["theirs"].pk, "ident": ["CVE-2026-21001"]})
    assert theirs.status_code == 404
    assert client.post(url, {"server": "x", "ident": ["CVE-2026-21001"]}).status_code == 404
    assert Plan.objects.count() == 1


def test_selection_needs_a_planner_and_a_csrf_token(client, client_for, viewer, planner, fleet):
    from django.test import Client

    url = reverse("vulnerability_selection_plan_fix")
    viewer_client = client_for(viewer)
    assert 'name="ident"' not in viewer_client.get(reverse("vulnerability_list")).content.decode()
    assert viewer_client.post(url, {"ident": ["CVE-2026-21001"]}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(planner)
    assert strict.post(url, {"ident": ["CVE-2026-21001"]}).status_code == 403
    assert not Plan.objects.exists()


def test_viewer_cannot_plan_the_fix(client_for, viewer, fleet):
    response = client_for(viewer).post(reverse("vulnerability_plan_fix", args=["CVE-2026-21001"]))
    assert response.status_code == 403
    assert not Plan.objects.exists()


def test_feed_page_shows_errors_and_only_staff_upload(client_for, admin, tmp_path, feeds):
    client = client_for(admin)
    bad = io.BytesIO(b'{"vulnerabilities": [{"cveID": "nope"}]}')
    bad.name = "kev.json"
    assert (
        client.post(reverse("advisory_sources"), {"source": "kev", "file": bad}).status_code == 403
    )
    admin.is_staff = True
    admin.save()
    bad.seek(0)
    response = client.post(reverse("advisory_sources"), {"source": "kev", "file": bad})
    assert response.status_code == 400
    assert "a KEV entry without a cveID" in response.content.decode()
    page = client.get(reverse("advisory_sources")).content.decode()
    assert "a KEV entry without a cveID" in page and "previous data is still in use" in page


def test_dashboard_card_counts_open_cves_past_target(client_for, planner, team, feeds):
    import time_machine

    from patchplan.advisories.services import remediation_policy_set

    remediation_policy_set(team=team, by=planner, critical_days=2)
    with time_machine.travel("2026-12-01 12:00Z", tick=False):
        server = ServerFactory(team=team)
        inventory_import(server=server, data="openssl\t3.0.19-1~deb12u2\tamd64\n", source="upload")
    for now, past in [("2026-12-03 11:00Z", "0"), ("2026-12-03 13:00Z", "1")]:
        with time_machine.travel(now, tick=False):
            client = client_for(planner)  # logged in at the travelled time
            body = client.get(reverse("remediation_card")).content.decode()
            assert f'data-testid="posture-past-critical">{past}<' in body
            assert 'hx-get="/vulnerabilities/dashboard-card/"' in client.get("/").content.decode()


def test_posture_trend_counts_open_at_each_week_end(team, planner, feeds):
    import time_machine

    from patchplan.advisories.selectors import remediation_trend

    with time_machine.travel("2026-11-01 12:00Z", tick=False):
        server = ServerFactory(team=team)
        inventory_import(server=server, data="openssl\t3.0.19-1~deb12u2\tamd64\n", source="upload")
    with time_machine.travel("2026-11-20 12:00Z", tick=False):
        inventory_import(server=server, data="openssl\t3.0.22-1~deb12u2\tamd64\n", source="upload")
    with time_machine.travel("2026-12-03 12:00Z", tick=False):
        trend = dict(remediation_trend(team=team, weeks=6))
    from datetime import date

    # openssl 3.0.19 had two CVEs (21001 fixed in 3.0.22, 9230 fixed earlier: none).
    assert trend[date(2026, 10, 29)] == 0
    assert trend[date(2026, 11, 5)] == 1
    assert trend[date(2026, 11, 19)] == 1
    assert trend[date(2026, 11, 26)] == 0


def test_a_running_fleet_rematch_shows_its_progress(client_for, viewer, feeds):
    from django.core.cache import cache

    from patchplan.advisories.models import FleetMatchRun
    from patchplan.advisories.selectors import progress_key

    run = FleetMatchRun.objects.create(releases_total=2)
    cache.set(progress_key(run.pk), (1, 2))
    body = client_for(viewer).get(reverse("advisory_sources")).content.decode()
    assert "running (step 1 of 2)" in body
