"""One history pipeline: every public service of plans, servers and teams that writes
data writes a history row (an AuditEvent) in the same transaction.

The walk finds the services by introspection, the way tests/teams/test_access.py
walks the URL conf: a new service fails here until it has a scenario below (or is
listed as writing nothing). Each scenario runs with the SQL captured; a write to
any table but the history tables themselves (and the notification outbox and
sessions) must come with an INSERT into plans_auditevent. Runs on PostgreSQL and
SQLite."""

import importlib
import inspect
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patchplan.teams import services as team_services
from patchplan.teams.roles import Role
from plans.choices import SignOffStage
from plans.models import ChecklistItem, LogEntry, PlanRole
from plans.services import (
    documents,
    evidence,
    execution,
    gates,
    log,
    plans,
    raci,
    review,
    schedules,
    signoff,
    tasks,
    windows,
)
from servers import services as server_services
from tests import factories

from .run_helpers import (
    DPKG_AFTER,
    approve,
    give_go,
    make_plan,
    make_servers,
    make_window,
    milestone,
)

pytestmark = pytest.mark.django_db

MODULES = [
    documents,
    evidence,
    execution,
    gates,
    log,
    plans,
    raci,
    review,
    schedules,
    signoff,
    tasks,
    windows,
    server_services,
    team_services,
]

# Public functions that write nothing, or nothing but what their caller records.
NO_HISTORY = {
    "documents.document_versions_record": "history itself, for the services that save a text",
    "gates.window_gate": "reads",
    "gates.window_gate_milestone": "reads",
    "gates.window_is_early": "reads",
    "log.run_log_entry": "the log entry of a run-mode change its caller records",
    "gates.window_require_may_start": "reads",
    "plans.mentions_in": "pure",
    "plans.package_targets_clean": "pure",
    "plans.packages_clean": "pure",
    "plans.reference_parse": "pure",
    "plans.references_parse": "pure",
    "signoff.plan_unverified_servers": "reads",
    "signoff.signoff_eligible": "reads",
    "servers.services.generate_token": "pure",
    "servers.services.normalize_hostname": "pure",
    "servers.services.parse_tag_names": "pure",
    "servers.services.tags_for_names": "tag names for server_create/servers_tag (they record)",
    "servers.services.token_authenticate": "marks the token used (bookkeeping, not a change)",
    "patchplan.teams.services.invitation_from_token": "reads",
    "patchplan.teams.services.invitation_token": "pure",
}

# Tables whose rows are history (or outbox/sessions): writing them alone needs no
# AuditEvent. An inventory snapshot is the history of a server's packages.
HISTORY_TABLES = {
    "plans_auditevent",
    "plans_signoff",
    "plans_executionevent",
    "plans_planstatuschange",
    "plans_gateoverride",
    "plans_followup",
    "plans_logentryrevision",
    "plans_documentversion",
    "plans_historypurge",
    "django_session",
}
HISTORY_PREFIXES = ("notifications_",)
WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"?(\w+)"?', re.IGNORECASE)


def key(module, name: str) -> str:
    return f"{module.__name__.removeprefix('plans.services.')}.{name}"


def public_services() -> list[str]:
    found = []
    for module in MODULES:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                found.append(key(module, name))
    return sorted(found)


@pytest.fixture
def world(team, owner, engineer, approver, viewer):
    """A plan ready to run (listings, sign-offs, the go), its window, a task."""
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner)
    window = make_window(plan, servers, owner, starts=timezone.now() - timedelta(minutes=5))
    give_go(plan, servers, planner=owner, approver=approver)
    task = tasks.task_create(plan=plan, title="Dump", by=owner, checklist=["one", "two"])
    return {
        "team": team,
        "plan": plan,
        "servers": servers,
        "window": window,
        "task": task,
        "owner": owner,
        "engineer": engineer,
        "approver": approver,
        "viewer": viewer,
    }


def _rolled_back(w):
    s = w["servers"][0]
    for status in ("in_progress", "patched"):
        execution.execution_set_status(window=w["window"], server=s, status=status, by=w["owner"])
    execution.execution_set_status(
        window=w["window"], server=s, status="rolled_back", by=w["owner"], note="broke"
    )
    return s


# Each: (set-up returning kwargs-maker context) -> the call under test.
SCENARIOS = {
    "evidence.backup_record_create": lambda w: evidence.backup_record_create(
        plan=w["plan"], server=w["servers"][0], what="x", location="y", by=w["engineer"]
    ),
    "evidence.backup_records_create": lambda w: evidence.backup_records_create(
        plan=w["plan"], servers=w["servers"], what="x", location="y", by=w["engineer"]
    ),
    "evidence.change_approval_create": lambda w: evidence.change_approval_create(
        plan=w["plan"],
        change_id="CHG0031337",
        approved_by="CAB of 1 Dec",
        approved_at=timezone.now() - timedelta(hours=1),
        by=w["engineer"],
    ),
    "evidence.testrun_create": lambda w: evidence.testrun_create(
        plan=w["plan"], result="pass", by=w["engineer"]
    ),
    "execution.execution_import_listing": lambda w: execution.execution_import_listing(
        window=w["window"], server=w["servers"][0], data=DPKG_AFTER, by=w["engineer"]
    ),
    "execution.execution_record_downtime": lambda w: execution.execution_record_downtime(
        window=w["window"], server=w["servers"][0], minutes=5, by=w["engineer"]
    ),
    "execution.execution_set_status": lambda w: execution.execution_set_status(
        window=w["window"], server=w["servers"][0], status="in_progress", by=w["engineer"]
    ),
    "execution.window_start": lambda w: execution.window_start(
        window=w["window"], by=w["engineer"]
    ),
    "execution.window_record_times": lambda w: execution.window_record_times(
        window=w["window"], starts_at=timezone.now(), ends_at=None, by=w["engineer"]
    ),
    "execution.window_finish": lambda w: execution.window_finish(
        window=w["window"], by=w["engineer"]
    ),
    "gates.window_override_gate": lambda w: gates.window_override_gate(
        window=w["other_window"], by=w["approver"], reason="Emergency"
    ),
    "log.log_entry_add": lambda w: log.log_entry_add(
        plan=w["plan"], kind="issue", body="x", by=w["engineer"]
    ),
    "log.log_entry_edit": lambda w: log.log_entry_edit(
        entry=LogEntry.objects.exclude(kind="status").get(), kind="note", body="y", by=w["owner"]
    ),
    "plans.comment_post": lambda w: plans.comment_post(plan=w["plan"], body="Hi", by=w["owner"]),
    "plans.milestone_add": lambda w: plans.milestone_add(plan=w["plan"], name="CAB", by=w["owner"]),
    "plans.milestone_move": lambda w: plans.milestone_move(
        milestone=milestone(w["plan"], "review"), offset=-1, by=w["owner"]
    ),
    "plans.milestone_remove": lambda w: plans.milestone_remove(
        milestone=milestone(w["plan"], "review"), by=w["owner"]
    ),
    "plans.milestone_update": lambda w: plans.milestone_update(
        milestone=(m := milestone(w["plan"], "review")),
        version=m.version,
        by=w["owner"],
        name="Post-implementation review",
        starts_on=None,
        due_on=None,
    ),
    "plans.plan_create": lambda w: plans.plan_create(
        team=w["team"], title="New", owner=w["owner"], by=w["owner"]
    ),
    "plans.plan_create_from_template": lambda w: plans.plan_create_from_template(
        template=w["plan"], title="Copy", starts_on=timezone.localdate(), by=w["owner"]
    ),
    "plans.plan_delete": None,  # the plan and its whole history go: see test_append_only
    "plans.plan_save_as_template": lambda w: plans.plan_save_as_template(
        plan=w["plan"], title="T", review_by=None, by=w["owner"]
    ),
    "plans.plan_scope_add": lambda w: plans.plan_scope_add(
        plan=w["plan"], servers=[factories.ServerFactory(team=w["team"])], by=w["owner"]
    ),
    "plans.plan_scope_remove": lambda w: plans.plan_scope_remove(
        plan=w["plan"], servers=[w["servers"][1]], by=w["owner"]
    ),
    "plans.plan_transition": lambda w: plans.plan_transition(
        plan=w["plan"], to_status="draft", by=w["owner"]
    ),
    "plans.plan_update": lambda w: plans.plan_update(
        plan=w["plan"],
        by=w["owner"],
        title="Renamed",
        references=[plans.reference_parse("CVE-2024-1234")],
    ),
    "raci.planrole_assign": lambda w: raci.planrole_assign(
        plan=w["plan"], user=w["engineer"], raci="responsible", by=w["owner"]
    ),
    "raci.planrole_ensure_accountable": lambda w: (
        PlanRole.objects.filter(plan=w["plan"]).delete(),
        raci.planrole_ensure_accountable(plan=w["plan"], by=w["owner"]),
    ),
    "raci.planrole_remove": lambda w: raci.planrole_remove(
        role=PlanRole.objects.get(plan=w["plan"], raci="informed"), by=w["owner"]
    ),
    "review.followup_accept_risk": lambda w: review.followup_accept_risk(
        plan=w["plan"], server=_rolled_back(w), reason="ok", by=w["approver"]
    ),
    "review.plan_create_follow_up": lambda w: (
        _rolled_back(w),
        review.plan_create_follow_up(plan=w["plan"], by=w["owner"]),
    ),
    "review.plan_lessons_update": lambda w: review.plan_lessons_update(
        plan=w["plan"], lessons_learned="Learned", by=w["owner"]
    ),
    "schedules.schedule_create": lambda w: schedules.schedule_create(
        template=w["template"],
        frequency="weekly",
        weekday=1,
        starts_on=timezone.localdate(),
        by=w["owner"],
    ),
    "schedules.occurrence_create": lambda w: schedules.occurrence_create(
        schedule=w["schedule"], occurs_on=timezone.localdate() + timedelta(days=3)
    ),
    # Weekly with seven lead days: one occurrence is always due.
    "schedules.schedules_run": lambda w: schedules.schedules_run(now=timezone.now()),
    "signoff.signoff_give": lambda w: signoff.signoff_give(
        milestone=milestone(w["plan"], "deployment"),
        by=w["approver"],
        decision="reject",
        comment="no",
        stage=SignOffStage.EXIT,
    ),
    "tasks.checklist_item_toggle": lambda w: tasks.checklist_item_toggle(
        item=ChecklistItem.objects.first(), done=True, by=w["engineer"]
    ),
    "tasks.task_assign": lambda w: tasks.task_assign(
        task=w["task"], assignee=w["engineer"], by=w["owner"]
    ),
    "tasks.task_create": lambda w: tasks.task_create(plan=w["plan"], title="T", by=w["owner"]),
    "tasks.task_delete": lambda w: tasks.task_delete(task=w["task"], by=w["owner"]),
    "tasks.task_set_status": lambda w: tasks.task_set_status(
        task=w["task"], status="done", by=w["engineer"]
    ),
    "tasks.task_update": lambda w: tasks.task_update(
        task=w["task"], version=w["task"].version, title="Dump all", by=w["owner"]
    ),
    "windows.window_cancel": lambda w: windows.window_cancel(
        window=w["window"], version=w["window"].version, by=w["owner"]
    ),
    "windows.window_create": lambda w: windows.window_create(
        plan=w["plan"],
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, hours=1),
        by=w["owner"],
    ),
    "windows.window_update": lambda w: windows.window_update(
        window=w["window"],
        version=w["window"].version,
        starts_at=w["window"].starts_at,
        ends_at=w["window"].ends_at + timedelta(hours=1),
        by=w["owner"],
        downtimes=dict.fromkeys(w["servers"], 20),
    ),
    "servers.services.inventory_import_new_server": lambda w: (
        server_services.inventory_import_new_server(
            team=w["team"], hostname="new-1", data=DPKG_AFTER, by=w["owner"]
        )
    ),
    "servers.services.server_create": lambda w: server_services.server_create(
        team=w["team"], hostname="web-9", by=w["owner"]
    ),
    "servers.services.server_delete": lambda w: server_services.server_delete(
        server=factories.ServerFactory(team=w["team"]), by=w["owner"]
    ),
    "servers.services.server_update": lambda w: server_services.server_update(
        server=w["servers"][0], by=w["owner"], criticality="high", tags=["pg"]
    ),
    "servers.services.servers_tag": lambda w: server_services.servers_tag(
        team=w["team"], servers=w["servers"], tag_names=["night"], by=w["owner"]
    ),
    "servers.services.token_create": lambda w: server_services.token_create(
        team=w["team"], name="ci", by=w["owner"]
    ),
    "servers.services.token_revoke": lambda w: server_services.token_revoke(
        token=server_services.token_create(team=w["team"], name="x", by=w["owner"])[0],
        by=w["owner"],
    ),
    "patchplan.teams.services.freeze_create": lambda w: team_services.freeze_create(
        team=w["team"],
        starts_on=timezone.localdate() + timedelta(days=30),
        ends_on=timezone.localdate() + timedelta(days=31),
        reason="Sale",
        by=w["owner"],
    ),
    "patchplan.teams.services.freeze_delete": lambda w: team_services.freeze_delete(
        freeze=factories.FreezeFactory(
            team=w["team"],
            starts_on=timezone.localdate() + timedelta(days=40),
            ends_on=timezone.localdate() + timedelta(days=41),
        ),
        by=w["owner"],
    ),
    "patchplan.teams.services.invitation_accept": lambda w: team_services.invitation_accept(
        invitation=factories.InvitationFactory(
            team=w["team"], email="new@example.com", invited_by=w["owner"]
        ),
        user=factories.UserFactory(email="new@example.com"),
    ),
    "patchplan.teams.services.invitation_create": lambda w: team_services.invitation_create(
        team=w["team"], email="x@example.com", role=Role.VIEWER, by=w["owner"]
    ),
    "patchplan.teams.services.invitation_revoke": lambda w: team_services.invitation_revoke(
        invitation=factories.InvitationFactory(team=w["team"], invited_by=w["owner"]),
        by=w["owner"],
    ),
    "patchplan.teams.services.membership_change_role": lambda w: (
        team_services.membership_change_role(
            membership=w["viewer"].memberships.get(), role=Role.ENGINEER, by=w["owner"]
        )
    ),
    "patchplan.teams.services.membership_remove": lambda w: team_services.membership_remove(
        membership=w["viewer"].memberships.get(), by=w["owner"]
    ),
    "patchplan.teams.services.off_peak_replace": lambda w: team_services.off_peak_replace(
        team=w["team"], periods=[(0, "22:00", "04:00")], by=w["owner"]
    ),
    "patchplan.teams.services.team_create": lambda w: team_services.team_create(
        name="Red", slug="red", admin=w["owner"]
    ),
    "patchplan.teams.services.team_update": lambda w: team_services.team_update(
        team=w["team"], name="Renamed", time_zone="UTC", four_eyes=True, by=w["owner"]
    ),
}


def _start(w):
    execution.window_start(window=w["window"], by=w["engineer"])
    w["window"].refresh_from_db()


def _log(w):
    log.log_entry_add(plan=w["plan"], kind="issue", body="x", by=w["engineer"])


def _informed(w):
    raci.planrole_assign(plan=w["plan"], user=w["viewer"], raci="informed", by=w["owner"])


def _other_window(w):
    # A second plan whose deployment has no go: something to override.
    other = approve(
        make_plan(w["team"], w["owner"], title="Emergency"),
        planner=w["owner"],
        approver=w["approver"],
    )
    servers = make_servers(w["team"], other, w["owner"], prefix="web")
    w["other_window"] = make_window(other, servers, w["owner"])


def _template(w):
    w["template"] = plans.plan_save_as_template(
        plan=w["plan"], title="Weekly", review_by=None, by=w["owner"]
    )


def _schedule(w):
    _template(w)
    w["schedule"] = schedules.schedule_create(
        template=w["template"],
        frequency="weekly",
        weekday=timezone.localdate().weekday(),
        starts_on=timezone.localdate(),
        lead_days=7,
        by=w["owner"],
    )


# Set-up a scenario needs before the measured call (run outside the capture).
SETUP = {
    "execution.window_finish": _start,
    "log.log_entry_edit": _log,
    "raci.planrole_remove": _informed,
    "gates.window_override_gate": _other_window,
    "schedules.schedule_create": _template,
    "schedules.occurrence_create": _schedule,
    "schedules.schedules_run": _schedule,
}


def test_every_service_has_a_scenario_or_writes_nothing():
    missing = [k for k in public_services() if k not in SCENARIOS and k not in NO_HISTORY]
    assert missing == []
    gone = [k for k in [*SCENARIOS, *NO_HISTORY] if k not in public_services()]
    assert gone == []


def _writes(queries) -> tuple[set[str], bool]:
    """The tables changed (history tables apart) and whether an AuditEvent (or, for a
    listing, its snapshot) was written."""
    tables, audited = set(), False
    for q in queries:
        match = WRITE.match(q["sql"])
        if not match:
            continue
        table = match.group(2).lower()
        inserted = match.group(1).upper().startswith("INSERT")
        if table == "plans_auditevent" and inserted:
            audited = True
        if table in HISTORY_TABLES or table.startswith(HISTORY_PREFIXES):
            continue
        if table == "servers_inventorysnapshot" and match.group(1).upper().startswith("INSERT"):
            audited = True  # the snapshot is the record of a listing
        tables.add(table)
    return tables, audited


@pytest.mark.parametrize("name", sorted(k for k, v in SCENARIOS.items() if v is not None))
def test_each_service_writes_history_with_its_change(world, name):
    if name in SETUP:
        SETUP[name](world)
    with CaptureQueriesContext(connection) as captured:
        SCENARIOS[name](world)
    tables, audited = _writes(captured.captured_queries)
    assert audited, f"{name} changed {sorted(tables) or 'history only'} without an AuditEvent"


def test_the_walk_notices_a_service_without_history(world):
    """The check itself can fail: a write with no AuditEvent is caught."""
    from plans.models import Task

    with CaptureQueriesContext(connection) as captured:
        Task.objects.filter(pk=world["task"].pk).update(title="silently")
    tables, audited = _writes(captured.captured_queries)
    assert tables == {"plans_task"} and not audited


def test_modules_walked_are_all_the_service_modules():
    """A new services module in plans/ is walked too."""
    import pkgutil

    import plans.services as package

    names = {m.name for m in pkgutil.iter_modules(package.__path__)}
    walked = {m.__name__.rsplit(".", 1)[-1] for m in MODULES if m.__name__.startswith("plans.")}
    assert names == walked
    assert importlib.import_module("servers.services") in MODULES
