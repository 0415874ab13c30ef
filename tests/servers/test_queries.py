"""Query budgets of the server pages, at two fleet sizes: the count must not grow."""

import pytest
from django.urls import reverse

from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from servers.models import Tag
from tests import factories

from .helpers import query_listing, upgradable_listing

pytestmark = pytest.mark.django_db


def _fleet(team, planner, servers: int, packages: int):
    tags = [Tag.objects.create(team=team, name=f"tag{i}") for i in range(3)]
    plan = factories.PlanFactory(team=team, owner=planner)
    made = []
    for i in range(servers):
        server = factories.ServerFactory(team=team, hostname=f"host-{i:04d}", owner=planner)
        server.tags.add(*tags[: 1 + i % 3])
        listing = {f"pkg{j}": f"1.{j}-{i % 3}" for j in range(packages)} | {"openssl": "3.0.1"}
        for version in ("1", "2"):
            listing["rolling"] = version
            inventory_import(
                server=server, data=query_listing(listing), source=SnapshotSource.COMMAND
            )
        inventory_import(
            server=server,
            data=upgradable_listing([("openssl", "bookworm-security", "3.0.2", "3.0.1")]),
            source=SnapshotSource.COMMAND,
        )
        plan.servers.add(server)
        made.append(server)
    return made


@pytest.mark.parametrize(("servers", "packages"), [(3, 5), (60, 40)])
def test_server_list_query_count_is_constant(
    client_for, planner, team, servers, packages, django_assert_max_num_queries
):
    _fleet(team, planner, servers, packages)
    client = client_for(planner)
    # session, user, memberships, count, servers (+owner), tags prefetch,
    # tag names for the filter (the bulk form's plans load when its picker is opened)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("server_list"), {"sort": "-security", "q": "host"})
    assert response.status_code == 200 and len(response.context["page"]) == min(servers, 50)


@pytest.mark.parametrize(("servers", "packages"), [(1, 5), (3, 250)])
def test_server_page_query_count_is_constant(
    client_for, planner, team, servers, packages, django_assert_max_num_queries
):
    server = _fleet(team, planner, servers, packages)[-1]
    client = client_for(planner)
    # session, user, memberships, server (+owner, team), package count, package
    # page, tags, pending updates, snapshots (+user, token), plans, owner choices
    with django_assert_max_num_queries(11):
        response = client.get(reverse("server_detail", args=[server.pk]))
    assert response.status_code == 200 and len(response.context["snapshots"]) == 3


@pytest.mark.parametrize(("servers", "packages"), [(3, 5), (60, 40)])
def test_fleet_search_query_count_is_constant(
    client_for, viewer, planner, team, servers, packages, django_assert_max_num_queries
):
    _fleet(team, planner, servers, packages)
    client = client_for(viewer)
    # session, user, memberships, the team's version orderings (for the bound), count
    # of matching rows, the page's rows, their pending candidates
    with django_assert_max_num_queries(7):
        response = client.get(reverse("server_fleet_search"), {"name": "openssl", "below": "3.0.2"})
    assert len(response.context["hits"]) == servers


@pytest.mark.parametrize(("servers", "packages"), [(3, 5), (60, 40)])
def test_fleet_updates_and_diff_query_counts_are_constant(
    client_for, viewer, planner, team, servers, packages, django_assert_max_num_queries
):
    made = _fleet(team, planner, servers, packages)
    client = client_for(viewer)
    # session, user, memberships, per environment, exposed servers, top package
    # names, their exact server counts
    with django_assert_max_num_queries(7):
        client.get(reverse("server_fleet_updates"))
    # session, user, memberships, server, snapshot list, the two blobs
    with django_assert_max_num_queries(6):
        response = client.get(reverse("server_diff", args=[made[-1].pk]))
    assert [c.name for c in response.context["changes"]] == ["rolling"]
