"""YAML import/export: the guide's milestone shape, a full round trip, the
commands, the browser upload/download, and every bad-input case refused
with its line and nothing created."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from plans import yaml_io
from plans.choices import TaskStatus
from plans.models import (
    ChecklistItem,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanRole,
    Task,
    WindowServer,
)
from plans.services import plans as services
from servers.choices import Environment
from tests import factories

pytestmark = pytest.mark.django_db

GUIDE = """\
milestones:
  - assessment: "2023-10-01"
  - testing: "2023-10-05"
  - deployment: "2023-10-10"
"""


def _counts():
    return (
        Plan.objects.count(),
        Milestone.objects.count(),
        MaintenanceWindow.objects.count(),
        Task.objects.count(),
        PlanRole.objects.count(),
    )


@pytest.fixture
def full_plan(team, planner, engineer, approver):
    web = factories.ServerFactory(team=team, hostname="web-prd-01")
    stg = factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING)
    plan = services.plan_create(
        team=team,
        title="OpenSSL critical fix",
        owner=planner,
        by=planner,
        kind="security_patch",
        risk="critical",
        objective="Patch **all** web servers.\n\n- fast\n- safely\n",
        success_criteria="No 5xx after patching.",
        backup_plan="Snapshot each VM.",
        rollback_plan="Restore the snapshot.\nThen tell people.",
        packages=["openssl", "libssl3"],
        references=services.references_parse(["CVE-2024-0001", "DSA-5678-1", "https://x.org/a"]),
    )
    services.plan_scope_add(plan=plan, servers=[web, stg], by=planner)
    ms = {m.name: m for m in plan.milestones.all()}
    for name, start, due in [
        ("assessment", None, "2030-03-01"),
        ("testing", "2030-03-02", "2030-03-04"),
        ("deployment", "2030-03-05", "2030-03-06"),
    ]:
        m = ms[name]
        services.milestone_update(
            milestone=m,
            version=m.version,
            by=planner,
            name=name,
            starts_on=dt.date.fromisoformat(start) if start else None,
            due_on=dt.date.fromisoformat(due),
            signoff_roles=["approver"] if name == "deployment" else [],
            signoff_users=[approver] if name == "deployment" else [],
            signoff_count=1,
        )
    w1 = MaintenanceWindow.objects.create(
        plan=plan,
        milestone=ms["testing"],
        title="Staging",
        starts_at=dt.datetime(2030, 3, 2, 22, tzinfo=dt.UTC),
        ends_at=dt.datetime(2030, 3, 2, 23, tzinfo=dt.UTC),
    )
    WindowServer.objects.create(window=w1, server=stg, expected_downtime_minutes=5)
    w2 = MaintenanceWindow.objects.create(
        plan=plan,
        milestone=ms["deployment"],
        starts_at=dt.datetime(2030, 3, 5, 23, tzinfo=dt.UTC),
        ends_at=dt.datetime(2030, 3, 6, 1, tzinfo=dt.UTC),
    )
    WindowServer.objects.create(window=w2, server=web, expected_downtime_minutes=15)
    t = Task.objects.create(
        plan=plan,
        milestone=ms["testing"],
        title="Run tests",
        assignee=engineer,
        due_on=dt.date(2030, 3, 3),
        status=TaskStatus.IN_PROGRESS,
        position=0,
        description="Use the *smoke* suite",
    )
    ChecklistItem.objects.create(task=t, text="curl /health", done=True, position=0)
    ChecklistItem.objects.create(task=t, text="check logs", position=1)
    Task.objects.create(plan=plan, title="Tell people", position=1)
    PlanRole.objects.create(plan=plan, user=engineer, raci="responsible")
    return plan


def test_export_import_export_gives_the_same_text(full_plan, team):
    first = yaml_io.export_plan(full_plan)
    copy = yaml_io.import_plan(first, team=team)
    assert copy.pk != full_plan.pk
    assert yaml_io.export_plan(copy) == first
    # ...and it really carried everything.
    for piece in (
        "CVE-2024-0001",
        "web-stg-01",
        "downtime_minutes: 15",
        "curl /health",
        "assessment: '2030-03-01'",
        "people:\n    - arno-approver",
        "role: responsible",
        "objective: |",
    ):
        assert piece in first, piece


def test_the_guides_milestones_import_with_a_title(team, planner):
    plan = yaml_io.import_plan(GUIDE, team=team, by=planner, title="Security Patch Deployment")
    assert [(m.name, m.due_on.isoformat()) for m in plan.milestones.order_by("position")] == [
        ("assessment", "2023-10-01"),
        ("testing", "2023-10-05"),
        ("deployment", "2023-10-10"),
    ]
    assert plan.owner == planner
    assert "milestones:\n- assessment: '2023-10-01'" in yaml_io.export_plan(plan)


def test_import_plan_command_prints_the_url_path(team, planner, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(GUIDE)
    out = io.StringIO()
    call_command("import_plan", str(path), "--team", team.slug, "--title", "Guide", stdout=out)
    plan = Plan.objects.get()
    assert out.getvalue().strip() == f"/plans/{plan.pk}/"
    assert plan.title == "Guide" and plan.milestones.count() == 3


def test_export_plan_command_writes_yaml(full_plan):
    out = io.StringIO()
    call_command("export_plan", str(full_plan.pk), stdout=out)
    assert out.getvalue() == yaml_io.export_plan(full_plan)


def test_import_plan_command_reports_problems_and_creates_nothing(team, planner, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "title: x\nmilestones:\n  - testing: '2023-10-05'\n  - deployment: '2023-10-01'\n"
    )
    with pytest.raises(CommandError, match="line 4: deployment"):
        call_command("import_plan", str(path), "--team", team.slug)
    assert not Plan.objects.exists()
    with pytest.raises(CommandError, match="No team"):
        call_command("import_plan", str(path), "--team", "nope")


@pytest.mark.parametrize(
    "text,message",
    [
        ("title: x\nmilestones:\n  - a: '2023-10-01'\n   - b: 1\n", "line 4: not valid YAML"),
        ("title: x\n  bad: [\n", "line 2: not valid YAML"),
        ("title: x\ncolour: red\n", "line 2: unknown key 'colour'"),
        (
            "title: x\nmilestones:\n  - name: t\n    due: '2023-10-05'\n    wibble: 1\n",
            "line 5: unknown key 'wibble' in a milestone",
        ),
        (
            "title: x\nmilestones:\n  - testing: '2023-10-05'\n  - deployment: '2023-10-01'\n",
            "line 4: deployment (2023-10-01) is before testing (2023-10-05)",
        ),
        (
            "title: x\nmilestones:\n  - name: t\n    starts: '2023-10-05'\n    due: '2023-10-01'\n",
            "line 3: t is due (2023-10-01) before it starts (2023-10-05)",
        ),
        ("title: x\nmilestones:\n  - testing: '2023-02-30'\n", "line 3: testing: '2023-02-30'"),
        ("title: x\nservers:\n  - web-01\n  - nowhere-99\n", "line 4: unknown server 'nowhere-99'"),
        ("title: x\nowner: oscar-outsider\n", "line 2: owner: 'oscar-outsider' is not a member"),
        ("title: x\nreferences:\n  - CVE-1\n", "line 3: CVE-1 is not a CVE id"),
        ("title: x\nkind: banana\n", "line 2: kind 'banana' is not one of"),
        (
            "title: x\nwindows:\n  - starts: '2030-01-01T02:00:00+00:00'\n"
            "    ends: '2030-01-01T01:00:00+00:00'\n",
            "line 3: the window ends before it starts",
        ),
        ("title: x\ntasks:\n  - title: t\n    milestone: nope\n", "line 4: no milestone named"),
        ("title: x\ntitle: y\n", "line 2: duplicate key 'title'"),
        ("- just a list\n", "must be a YAML mapping"),
        ("milestones: []\n", "needs a title"),
        ("title: !!python/object/apply:os.system ['true']\n", "line 1: not valid YAML"),
        # One-line fields refuse control characters, as the forms do (issue 15).
        ('title: "a\\r\\nBcc: x@evil.example"\n', "line 1: title must be one line of text"),
        ('title: x\nmilestones:\n  - "a\\nb": 2030-01-01\n', "line 3: name must be one line"),
        (
            'title: x\ntasks:\n  - title: "t\\tu"\n',
            "line 3: title must be one line of text",
        ),
        (
            'title: x\ntasks:\n  - title: t\n    checklist:\n      - "a\\x1bb"\n',
            "line 5: a checklist line must be one line",
        ),
    ],
)
def test_bad_yaml_is_refused_with_its_line_and_nothing_created(
    team, planner, outsider, text, message
):
    factories.ServerFactory(team=team, hostname="web-01")
    before = _counts()
    with pytest.raises(yaml_io.PlanImportError) as exc:
        yaml_io.import_plan(text, team=team, by=planner)
    assert any(message in p for p in exc.value.problems), exc.value.problems
    assert _counts() == before


def test_an_alias_bomb_is_refused_before_it_expands(team, planner):
    bomb = (
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    )
    with pytest.raises(yaml_io.PlanImportError) as exc:
        yaml_io.import_plan(bomb, team=team, by=planner)
    assert exc.value.problems == ["line 1: anchors (&name) are not allowed"]
    with pytest.raises(yaml_io.PlanImportError, match="line 2: aliases"):
        yaml_io.load_yaml("a: 1\nb: *a\n")
    assert not Plan.objects.exists()


def test_deep_nesting_and_huge_files_are_refused():
    with pytest.raises(yaml_io.PlanImportError, match="nested deeper"):
        yaml_io.load_yaml("a: " + "[" * 50 + "]" * 50)
    with pytest.raises(yaml_io.PlanImportError, match="larger than"):
        yaml_io.load_yaml("a: " + "x" * (yaml_io.MAX_BYTES + 1))


def test_all_problems_are_listed_at_once(team, planner):
    with pytest.raises(yaml_io.PlanImportError) as exc:
        yaml_io.import_plan("title: x\nkind: z\nrisk: y\n", team=team, by=planner)
    assert len(exc.value.problems) == 2


def test_a_failure_late_in_creation_leaves_nothing(team, planner, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("late failure")

    monkeypatch.setattr(Task.objects, "create", boom)
    with pytest.raises(RuntimeError):
        yaml_io.import_plan(GUIDE + "title: x\ntasks:\n  - title: t\n", team=team, by=planner)
    assert _counts() == (0, 0, 0, 0, 0)


# --- browser ------------------------------------------------------------------


def test_download_and_upload_in_the_browser(client_for, full_plan, planner, outsider):
    client = client_for(planner)
    response = client.get(f"/plans/{full_plan.pk}/export.yaml")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    text = response.content
    upload = io.BytesIO(text)
    upload.name = "plan.yaml"
    response = client.post("/plans/import/", {"file": upload, "title": "Copy"})
    assert response.status_code == 302
    copy = Plan.objects.get(title="Copy")
    assert yaml_io.export_plan(copy) == text.decode().replace(
        "title: OpenSSL critical fix", "title: Copy"
    )
    assert client_for(outsider).get(f"/plans/{full_plan.pk}/export.yaml").status_code == 404


def test_upload_shows_problems_with_lines(client_for, planner):
    response = client_for(planner).post("/plans/import/", {"text": "title: x\nfoo: 1\n"})
    assert response.status_code == 400
    assert "line 2: unknown key" in response.content.decode()
    assert not Plan.objects.exists()


def test_viewer_cant_import(client_for, viewer):
    assert client_for(viewer).post("/plans/import/", {"text": GUIDE}).status_code == 403
    assert not Plan.objects.exists()


def test_milestones_import_into_an_existing_plan(client_for, planner, team, viewer, outsider):
    plan = services.plan_create(team=team, title="p", owner=planner, by=planner)
    url = f"/plans/{plan.pk}/milestones/import/"
    assert client_for(outsider).post(url, {"text": GUIDE}).status_code == 404
    assert client_for(viewer).post(url, {"text": GUIDE}).status_code == 403
    client_for(planner).post(url, {"text": GUIDE})
    rows = list(plan.milestones.order_by("position").values_list("name", "due_on"))
    assert rows == [
        ("assessment", dt.date(2023, 10, 1)),
        ("testing", dt.date(2023, 10, 5)),
        ("deployment", dt.date(2023, 10, 10)),
        ("review", None),
    ]
    bad = "milestones:\n  - testing: '2023-10-05'\n  - deployment: '2023-10-01'\n"
    response = client_for(planner).post(url, {"text": bad}, follow=True)
    assert "line 3: deployment (2023-10-01) is before testing" in response.content.decode()
    assert plan.milestones.get(name="deployment").due_on == dt.date(2023, 10, 10)


# --- templates ----------------------------------------------------------------


def test_save_as_template_and_create_a_plan_from_it_shifts_dates(
    client_for, full_plan, planner, team
):
    client = client_for(planner)
    response = client.post(
        f"/plans/{full_plan.pk}/save-template/",
        {"title": "Monthly OpenSSL", "review_by": "2030-06-01"},
    )
    template = Plan.objects.get(is_template=True)
    assert response["Location"] == f"/plans/{template.pk}/"
    assert template.review_by == dt.date(2030, 6, 1) and template.created_from == full_plan
    # The template keeps its servers as examples of roles; its tasks start over.
    assert set(template.servers.values_list("hostname", flat=True)) == {"web-prd-01", "web-stg-01"}
    assert set(template.tasks.values_list("status", flat=True)) == {"todo"}
    assert template.windows.count() == 2 and template.tasks.count() == 2
    # Templates are listed apart from plans.
    assert "Monthly OpenSSL" in client.get("/plans/templates/").content.decode()
    assert "Monthly OpenSSL" not in client.get("/plans/").content.decode()

    response = client.post(
        f"/plans/{template.pk}/copy/", {"title": "April OpenSSL", "starts_on": "2030-04-01"}
    )
    plan = Plan.objects.get(title="April OpenSSL")
    assert response["Location"] == f"/plans/{plan.pk}/scope/"
    assert not plan.is_template and plan.created_from == template
    # Servers without tags stand for themselves: both still exist.
    assert set(plan.servers.values_list("hostname", flat=True)) == {"web-prd-01", "web-stg-01"}
    offset = dt.date(2030, 4, 1) - dt.date(2030, 3, 1)  # first date of the timeline
    ms = {m.name: m for m in plan.milestones.all()}
    assert ms["assessment"].due_on == dt.date(2030, 3, 1) + offset
    assert ms["testing"].starts_on == dt.date(2030, 3, 2) + offset
    # Windows keep their weekday and time of day in the team's zone (Berlin): the
    # Saturday 23:00 staging window (CET) lands on a Saturday at 23:00 (CEST).
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    staging = plan.windows.get(title="Staging")
    local = staging.starts_at.astimezone(berlin)
    assert (local.date(), local.hour, local.minute) == (dt.date(2030, 4, 6), 23, 0)
    assert staging.ends_at - staging.starts_at == dt.timedelta(hours=1)
    assert list(staging.servers.values_list("hostname", flat=True)) == ["web-stg-01"]
    task = plan.tasks.get(title="Run tests")
    assert task.due_on == dt.date(2030, 3, 3) + offset
    # Nothing of the template's progress: every task to do, nothing ticked.
    assert task.status == TaskStatus.TODO and task.completed_at is None
    assert list(task.checklist.values_list("done", flat=True)) == [False, False]
    assert not plan.executions.exists() and not plan.backups.exists()


def test_a_plan_from_a_template_gets_the_current_servers_of_each_role(full_plan, team, planner):
    from servers.services import server_create, tags_for_names

    web = full_plan.servers.get(hostname="web-prd-01")
    web.tags.set(tags_for_names(team=team, names=["web"]))
    template = services.plan_save_as_template(
        plan=full_plan, title="Monthly", review_by=None, by=planner
    )
    server_create(team=team, hostname="web-prd-02", tags=["web"], by=planner)
    plan = services.plan_create_from_template(
        template=template, title="May", starts_on=dt.date(2030, 5, 1), by=planner
    )
    # web-prd-01 plays the "web" role: the team's production servers tagged "web" now.
    hosts = set(plan.servers.values_list("hostname", flat=True))
    assert hosts == {"web-prd-01", "web-prd-02", "web-stg-01"}
    deployment = plan.windows.exclude(title="Staging").get()
    assert set(deployment.servers.values_list("hostname", flat=True)) == {
        "web-prd-01",
        "web-prd-02",
    }


def test_template_pages_outsider_and_viewer(client_for, full_plan, outsider, viewer):
    for url in (f"/plans/{full_plan.pk}/save-template/", f"/plans/{full_plan.pk}/copy/"):
        assert client_for(outsider).get(url).status_code == 404
        assert client_for(viewer).get(url).status_code == 200
        assert (
            client_for(viewer).post(url, {"title": "x", "starts_on": "2030-01-01"}).status_code
            == 403
        )
    assert Plan.objects.count() == 1


def test_copying_a_plan_shifts_dates_and_resolves_its_servers(full_plan, planner):
    copy = services.plan_create_from_template(
        template=full_plan, title="Copy", starts_on=dt.date(2030, 3, 8), by=planner
    )
    assert copy.created_from == full_plan and not copy.is_template
    # Untagged servers stand for themselves.
    assert set(copy.servers.values_list("hostname", flat=True)) == {"web-prd-01", "web-stg-01"}
    assert WindowServer.objects.filter(window__plan=copy).count() == 2
    assert copy.milestones.get(name="assessment").due_on == dt.date(2030, 3, 8)
    assert full_plan.servers.count() == 2  # the source is untouched


def test_a_templates_windows_conflict_with_nothing(full_plan, planner):
    """The template copies the plan's windows and servers: they are examples, so the
    plan's own windows don't overlap them."""
    from plans.checks import plan_window_problems

    services.plan_save_as_template(plan=full_plan, title="T", review_by=None, by=planner)
    problems = plan_window_problems(full_plan)
    assert not [p for ps in problems.values() for p in ps if p.code == "overlap"]


def test_guide_yaml_with_past_dates_asks_then_shifts_them_to_start_today(client_for, planner):
    client = client_for(planner)
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False):
        asked = client.post("/plans/import/", {"text": GUIDE, "title": "Guide example"})
        body = asked.content.decode()
        assert "The file's dates are in the past" in body and "Shift the dates" in body
        assert not Plan.objects.exists()  # checked in full, then rolled back to ask
        # The text comes back in the form, ready for either answer.
        assert "2023-10-05" in body
        done = client.post(
            "/plans/import/", {"text": GUIDE, "title": "Guide example", "dates": "shift"}
        )
    assert done.status_code == 302
    plan = Plan.objects.get(title="Guide example")
    dues = [(m.name, m.due_on.isoformat()) for m in plan.milestones.order_by("position")]
    # Same gaps as the guide (4 and 5 days), starting today.
    assert dues[:3] == [
        ("assessment", "2026-12-02"),
        ("testing", "2026-12-06"),
        ("deployment", "2026-12-11"),
    ]


def test_guide_yaml_with_past_dates_can_keep_them(client_for, planner):
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False):
        response = client_for(planner).post(
            "/plans/import/", {"text": GUIDE, "title": "As written", "dates": "keep"}
        )
    assert response.status_code == 302
    plan = Plan.objects.get(title="As written")
    assert plan.milestones.get(name="assessment").due_on == dt.date(2023, 10, 1)


def test_a_past_dated_file_with_a_problem_shows_the_problem_not_the_question(client_for, planner):
    bad = "title: x\nmilestones:\n  - testing: '2023-10-05'\n  - deployment: '2023-10-01'\n"
    response = client_for(planner).post("/plans/import/", {"text": bad})
    body = response.content.decode()
    assert response.status_code == 400 and "line 4: deployment" in body
    assert "dates are in the past" not in body


def test_shifting_a_past_file_keeps_each_windows_time_of_day_in_the_teams_zone(
    team, client_for, planner
):
    team.time_zone = "Europe/Berlin"
    team.save()
    factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING)
    text = (
        "title: nginx patch\nservers: [web-stg-01]\n"
        "milestones:\n  - testing: '2023-10-05'\n"
        "windows:\n"
        # Summer time in the file (+02:00) and a wall time with no offset.
        "  - {title: Staging, starts: '2023-10-05T22:00:00+02:00',"
        " ends: '2023-10-05T23:00:00+02:00', servers: [{hostname: web-stg-01}]}\n"
        "  - {title: Later, starts: '2023-10-06T21:30:00', ends: '2023-10-06T22:30:00'}\n"
    )
    client = client_for(planner)
    page = client.get("/plans/import/").content.decode()
    assert "read in the team's zone, Europe/Berlin" in page
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False):
        done = client.post("/plans/import/", {"text": text, "dates": "shift"})
    assert done.status_code == 302
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    starts = {
        w.title: w.starts_at.astimezone(berlin)
        for w in MaintenanceWindow.objects.filter(plan__title="nginx patch")
    }
    # Moved to winter time (+01:00), still 22:00 and 21:30 in Berlin.
    assert starts["Staging"] == dt.datetime(2026, 12, 2, 22, tzinfo=berlin)
    assert starts["Later"] == dt.datetime(2026, 12, 3, 21, 30, tzinfo=berlin)
