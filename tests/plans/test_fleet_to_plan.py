"""A fleet search's answer becomes a plan's scope (issue 17): a new plan with those
servers, those servers added to a plan, and the scope picker's package filter."""

import pytest

from plans.models import AuditEvent, Plan
from plans.services.plans import plan_create
from servers.choices import SnapshotSource
from servers.inventory import inventory_import
from tests import factories
from tests.servers.helpers import query_listing

pytestmark = pytest.mark.django_db

SEARCH = {"name": "openssl", "below": "3.0.15"}


def _host(team, hostname, openssl):
    server = factories.ServerFactory(team=team, hostname=hostname)
    inventory_import(
        server=server,
        data=query_listing({"openssl": openssl, "bash": "5.2.15-2"}),
        source=SnapshotSource.COMMAND,
    )
    return server


@pytest.fixture
def fleet(team, other_team):
    return {
        "old": _host(team, "web-01", "3.0.11-1~deb12u2"),
        "new": _host(team, "web-02", "3.0.15-1~deb12u1"),
        # Another team's host with the same old version never joins the scope.
        "theirs": _host(other_team, "web-01", "3.0.11-1~deb12u2"),
    }


def test_new_plan_with_these_servers_starts_with_them_in_scope(client_for, planner, fleet):
    client = client_for(planner)
    form = client.get("/plans/new/", SEARCH)
    assert "1 server from your fleet search" in form.content.decode()
    response = client.post(
        "/plans/new/?name=openssl&below=3.0.15",
        {"title": "Fix it"}
        | {
            "kind": "security_patch",
            "risk": "high",
            "owner": planner.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    plan = Plan.objects.get(title="Fix it")
    assert list(plan.servers.values_list("pk", flat=True)) == [fleet["old"].pk]
    assert AuditEvent.objects.filter(plan=plan, action="scope").exists()


def test_add_these_servers_to_a_plan(client_for, team, planner, fleet):
    plan = plan_create(team=team, title="Monthly", owner=planner, by=planner)
    response = client_for(planner).post(
        "/plans/scope-from-fleet/", {"plan": plan.pk, **SEARCH, "environment": ""}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(f"/plans/{plan.pk}/scope/?package=openssl")
    assert list(plan.servers.all()) == [fleet["old"]]


def test_fleet_page_offers_only_open_plans_of_the_team(
    client_for, team, other_team, planner, outsider, fleet
):
    plan_create(team=team, title="Open one", owner=planner, by=planner)
    done = plan_create(team=team, title="Done one", owner=planner, by=planner)
    Plan.objects.filter(pk=done.pk).update(status="completed")
    factories.PlanFactory(team=other_team, title="Theirs", owner=outsider)
    client = client_for(planner)
    body = client.get("/servers/fleet/", SEARCH).content.decode()
    # The page's picker loads its plans from the plans app when first used.
    assert "New plan with these servers" in body and 'hx-get="/plans/picker/"' in body
    options = client.get("/plans/picker/").content.decode()
    assert "Open one" in options
    assert "Done one" not in options and "Theirs" not in options


def test_another_teams_plan_is_a_404_and_a_viewer_is_refused(
    client_for, team, other_team, planner, viewer, outsider, fleet
):
    theirs = factories.PlanFactory(team=other_team, owner=outsider)
    ours = plan_create(team=team, title="Ours", owner=planner, by=planner)
    assert (
        client_for(planner).post("/plans/scope-from-fleet/", {"plan": theirs.pk, **SEARCH})
    ).status_code == 404
    assert (
        client_for(outsider).post("/plans/scope-from-fleet/", {"plan": ours.pk, **SEARCH})
    ).status_code == 404
    assert (
        client_for(viewer).post("/plans/scope-from-fleet/", {"plan": ours.pk, **SEARCH})
    ).status_code == 403
    assert not ours.servers.exists() and not theirs.servers.exists()
    body = client_for(viewer).get("/servers/fleet/", SEARCH).content.decode()
    assert "New plan with these servers" not in body


def test_scope_picker_filters_by_package_and_version(client_for, team, planner, fleet):
    plan = plan_create(team=team, title="Monthly", owner=planner, by=planner)
    client = client_for(planner)
    below = client.get(f"/plans/{plan.pk}/scope/", {"package": "openssl", "below": "3.0.15"})
    body = below.content.decode()
    assert "1 found running" in body and f'value="{fleet["old"].pk}"' in body
    assert f'value="{fleet["new"].pk}"' not in body
    every = client.get(f"/plans/{plan.pk}/scope/", {"package": "bash"}).content.decode()
    assert "2 found running" in every
