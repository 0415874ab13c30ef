"""Fleet search compares versions in the database (the stored version_key) and pages in
SQL: the same answers as comparing in Python with each server's own ordering."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from servers import selectors
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from servers.models import ServerPackage
from servers.versions import compare_versions, version_key
from tests import factories

from .helpers import query_listing

pytestmark = pytest.mark.django_db

DEB_VERSIONS = [
    "3.0.11-1~deb12u2",
    "3.0.11-1",
    "3.0.11-1+deb12u1",
    "3.0.2-0ubuntu1.15",
    "3.0.2-0ubuntu1.9",
    "1:1.1.1w-0+deb11u1",
    "3.0.11~rc1-1",
    "3.0.9-1",
    "3.0.10-1",
    "3.1-1",
    "3.0.11-10",
]
RPM_VERSIONS = ["3.0.7-27.el9", "3.0.7-3.el9", "1:3.0.7-27.el9", "3.0.1-41.el9_0", "3.2.2-6.el9"]
BOUNDS = ["3.0.11-1", "3.0.11", "3.0.10", "3.0.7-27.el9", "1:0", "3.0.11-1~deb12u3", "2", "~"]


def _fleet(team, families=("deb", "rpm")):
    for i, version in enumerate(DEB_VERSIONS if "deb" in families else []):
        server = factories.ServerFactory(team=team, hostname=f"deb-{i:02d}")
        inventory_import(
            server=server,
            data=query_listing({"openssl": version, "bash": "5.2.15-2+b2"}),
            source=SnapshotSource.COMMAND,
        )
    for i, version in enumerate(RPM_VERSIONS if "rpm" in families else []):
        server = factories.ServerFactory(team=team, hostname=f"rpm-{i:02d}")
        inventory_import(
            server=server,
            data=f"openssl-{version}.x86_64\nbash-5.1.8-6.el9_1.x86_64\n",
            format="rpm-qa",
            source=SnapshotSource.COMMAND,
        )


@pytest.fixture
def mixed_fleet(team):
    _fleet(team)


# A fleet of one ordering takes the bound as one index range (no server's family per
# row); a mixed one compares each row in its server's family: the same answers.
@pytest.mark.parametrize("families", [("deb", "rpm"), ("deb",), ("rpm",)])
@pytest.mark.parametrize("below", BOUNDS)
def test_below_matches_the_package_managers_own_comparison(viewer, team, families, below):
    _fleet(team, families)
    assert selectors.team_package_families(team=team) == list(families)
    expected = []
    for row in ServerPackage.objects.filter(name="openssl", server__team=team).select_related(
        "server"
    ):
        family = row.server.package_family
        try:
            if compare_versions(row.version, below, family=family) < 0:
                expected.append(row.server.hostname)
        except ValueError:
            pass
    hits = selectors.fleet_package_search(user=viewer, team=team, name="openssl", below=below)
    assert sorted(h.hostname for h in hits) == sorted(expected)
    assert len(hits) == len(expected)


def test_import_stores_the_key_of_the_servers_family(team, mixed_fleet):
    for row in ServerPackage.objects.select_related("server"):
        assert (
            bytes(row.version_key)
            == version_key(row.version, family=row.server.package_family).encode()
        )
    assert {r.server.package_family for r in ServerPackage.objects.select_related("server")} == {
        "deb",
        "rpm",
    }


def test_fleet_search_pages_in_sql(client_for, viewer, team, django_assert_max_num_queries):
    for i in range(130):
        server = factories.ServerFactory(team=team, hostname=f"h-{i:03d}")
        ServerPackage.objects.create(
            server=server,
            name="openssl",
            architecture="amd64",
            version="3.0.1-1",
            version_key=version_key("3.0.1-1").encode(),
        )
    client = client_for(viewer)
    client.get(reverse("server_fleet_search"), {"name": "openssl"})
    # session, user, memberships, the team's version orderings (for the bound), count,
    # the page's 100 rows, their pending candidates
    with django_assert_max_num_queries(7):
        response = client.get(
            reverse("server_fleet_search"), {"name": "openssl", "below": "3.0.2", "page": 2}
        )
    page = response.context["page"]
    assert [h.hostname for h in page] == [f"h-{i:03d}" for i in range(100, 130)]
    assert "130 servers run" in response.content.decode()


def test_data_migration_fills_keys_of_existing_rows(team, mixed_fleet):
    expected = {
        pk: bytes(key) for pk, key in ServerPackage.objects.values_list("pk", "version_key")
    }
    ServerPackage.objects.update(version_key=b"")
    migration = importlib.import_module("servers.migrations.0004_serverpackage_version_key")
    migration.fill_version_keys(apps, None)
    found = {pk: bytes(key) for pk, key in ServerPackage.objects.values_list("pk", "version_key")}
    assert found == expected and all(found.values())
