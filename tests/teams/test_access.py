"""Walks the whole URL conf: every URL that takes an object id is requested by
a member, a member of another team and an anonymous user, for GET and POST,
and the database must be unchanged by every request that is refused.

A new URL with an object kwarg must be registered in OBJECT_KWARGS (the test
fails until it is), so no view can be added without this check."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from patchplan.notifications.models import Notification
from patchplan.teams.roles import Role
from plans.models import ChecklistItem, LogEntry, PlanRole, WindowServer
from servers.models import InventoryToken
from tests import factories

# kwarg name -> how to find the id of the world's object of that kind
OBJECT_KWARGS = {
    "plan_id": lambda w: w["plan"].pk,
    "server_id": lambda w: w["server"].pk,
    "membership_id": lambda w: w["membership"].pk,
    "freeze_id": lambda w: w["freeze"].pk,
    "invitation_id": lambda w: w["invitation"].pk,
    "window_id": lambda w: w["window"].pk,
    "task_id": lambda w: w["task"].pk,
    "item_id": lambda w: w["checklist_item"].pk,
    "planrole_id": lambda w: w["planrole"].pk,
    "token_id": lambda w: w["token"].pk,
    "milestone_id": lambda w: w["milestone"].pk,
    "entry_id": lambda w: w["log_entry"].pk,
    "notification_id": lambda w: w["notification"].pk,
    "section": lambda w: "objective",  # a plan document section's name (with plan_id)
    "field": lambda w: "rollback_plan",  # a plan document text's versions (with plan_id)
    "part": lambda w: "milestones",  # a live piece of the plan page (with plan_id)
    # A plan page row edited in place: kind and pk together name one row (here the
    # world's task; milestones and windows: tests/plans/test_plan_rows_inline.py).
    "kind": lambda w: "task",
    "pk": lambda w: w["task"].pk,
}

# Patterns whose kwargs are not team objects, with the reason.
NOT_TEAM_OBJECTS = {
    "team_invitation_accept": "a signed token, tested in test_invitations",
    "password_reset_confirm": "Django's signed reset token",
    "api_inventory_push": "bearer-token API (401 without a token), tests/servers/test_api.py",
    "notification_feed_user": "private calendar token, tests/notifications/test_views.py",
    "notification_feed_team": "private calendar token, tests/notifications/test_views.py",
    "vulnerability_detail": "a CVE id (global advisory data); the page shows only the "
    "current team's servers, tests/advisories/test_views.py",
    "vulnerability_plan_fix": "a CVE id; the plan is created in the current team for its "
    "servers only, tests/advisories/test_views.py",
}

# A person's own objects: only that person reaches them; to everyone else, their team's
# admins included, they don't exist (404).
PERSONAL_OBJECTS = {
    "notification_open": "a notification is its recipient's, tests/notifications/test_views.py",
}

# Tables whose rows a refused request may legitimately touch.
IGNORED_TABLES = {"django_session", "axes_accessattempt", "axes_accesslog", "axes_accessfailurelog"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def object_patterns():
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue
        kwargs = list(pattern.pattern.converters)
        if not kwargs or pattern.name in NOT_TEAM_OBJECTS:
            continue
        found.append((route, pattern.name, kwargs))
    return found


def _fill(route: str, kwargs: list[str], world) -> str:
    path = route
    for name in kwargs:
        if name not in OBJECT_KWARGS:
            pytest.fail(f"URL {route!r} takes {name!r}: add it to OBJECT_KWARGS in {__file__}")
        start = path.index("<")
        end = path.index(">", start)
        path = path[:start] + str(OBJECT_KWARGS[name](world)) + path[end + 1 :]
    return "/" + path


def _db_state():
    """What the database holds, to compare before and after a request.

    On PostgreSQL one query reads this transaction's write counters per
    table (inserted, updated, deleted rows): any write shows, even one that
    stores the same values. Elsewhere every row of every table is read."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables"
            )
            return {row[0]: row[1:] for row in cursor.fetchall() if row[0] not in IGNORED_TABLES}
    state = {}
    for model in apps.get_models():
        table = model._meta.db_table
        if table in IGNORED_TABLES:
            continue
        state[table] = list(model._default_manager.order_by("pk").values_list())
    return state


@pytest.fixture
def world(team, admin, viewer):
    planner = factories.UserFactory(username="world-planner")
    membership = factories.MembershipFactory(team=team, user=planner, role=Role.PLANNER)
    server = factories.ServerFactory(team=team, hostname="web-01")
    plan = factories.PlanFactory(team=team, owner=planner)
    plan.servers.add(server)
    window = factories.WindowFactory(plan=plan, title="Patch night")
    WindowServer.objects.create(window=window, server=server, expected_downtime_minutes=10)
    task = factories.TaskFactory(plan=plan, assignee=planner)
    checklist_item = ChecklistItem.objects.create(task=task, text="Snapshot the VM")
    planrole = PlanRole.objects.create(plan=plan, user=planner, raci="consulted")
    return {
        "team": team,
        "plan": plan,
        "server": server,
        "membership": membership,
        "freeze": factories.FreezeFactory(team=team, starts_on="2030-01-01", ends_on="2030-01-02"),
        "invitation": factories.InvitationFactory(team=team, invited_by=admin),
        "window": window,
        "task": task,
        "checklist_item": checklist_item,
        "planrole": planrole,
        "milestone": factories.MilestoneFactory(plan=plan, name="testing"),
        "log_entry": LogEntry.objects.create(plan=plan, body="Disk full on web-01", author=planner),
        "token": InventoryToken.objects.create(
            team=team, name="ci", token_hash="0" * 64, hint="ppi_0000", created_by=admin
        ),
        "notification": Notification.objects.create(
            recipient=planner,
            team=team,
            kind="task_assigned",
            object_type="task",
            object_id=task.pk,
            due_at=timezone.now(),
            status="failed",
        ),
    }


def test_the_walk_finds_the_object_urls():
    names = {name for _route, name, _kwargs in object_patterns()}
    assert {"plan_detail", "server_detail", "team_member_remove"} <= names


# Views whose plain GET (no htmx) sends a member on to the object's full page.
GET_REDIRECTS_TO_PAGE = {"plan_row": "the row editor without JS: the row's own page"}


def _shown(response, name: str) -> bool:
    """The member gets the page: 200, 405 for a POST-only URL, or the full page's
    redirect of a view that answers htmx only (never to the login); for a person's own
    object (the walk's belongs to another member), the 404 everyone else gets."""
    if name in PERSONAL_OBJECTS:
        return response.status_code == 404
    if response.status_code in (200, 405):
        return True
    return (
        response.status_code == 302
        and name in GET_REDIRECTS_TO_PAGE
        and "/accounts/login/" not in response["Location"]
    )


# What a viewer may post (patchplan/teams/roles.py): answering in the comments.
# The walk's empty POST is refused at the form (a redirect), nothing written.
VIEWER_MAY_POST = {"comment_create"}


@pytest.mark.django_db
def test_every_object_url_is_scoped(client, world, outsider, viewer, admin):
    patterns = object_patterns()
    failures = []
    for route, name, kwargs in patterns:
        url = _fill(route, kwargs, world)
        for method in ("get", "post"):
            # Another team's admin: the object does not exist for them.
            client.force_login(outsider)
            before = _db_state()
            response = getattr(client, method)(url)
            # 405 (a POST-only URL asked with GET) is answered before any lookup.
            if response.status_code not in (404, 405):
                failures.append(f"outsider {method.upper()} {url} ({name}): {response.status_code}")
            if _db_state() != before:
                failures.append(f"outsider {method.upper()} {url} ({name}) changed the database")

            # Anonymous: sent to log in (or 401/404 for token APIs), nothing changes.
            # A fresh client: logging out would end the user's other sessions.
            before = _db_state()
            response = getattr(Client(), method)(url)
            if response.status_code not in (302, 401, 404) or (
                response.status_code == 302 and "/accounts/login/" not in response["Location"]
            ):
                failures.append(
                    f"anonymous {method.upper()} {url} ({name}): {response.status_code}"
                )
            if _db_state() != before:
                failures.append(f"anonymous {method.upper()} {url} ({name}) changed the database")

            # A viewer of the team: may look, may not change.
            client.force_login(viewer)
            before = _db_state()
            response = getattr(client, method)(url)
            if method == "get" and not _shown(response, name):
                failures.append(f"viewer GET {url} ({name}): {response.status_code}")
            if method == "post":
                allowed = (403, 405) + ((302,) if name in VIEWER_MAY_POST else ())
                if response.status_code not in allowed:
                    failures.append(f"viewer POST {url} ({name}): {response.status_code}")
                if _db_state() != before:
                    failures.append(f"viewer POST {url} ({name}) changed the database")

        # A member with the rights: the page is there.
        client.force_login(admin)
        response = client.get(url)
        if not _shown(response, name):
            failures.append(f"admin GET {url} ({name}): {response.status_code}")
    assert not failures, "\n".join(failures)
