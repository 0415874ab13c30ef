"""The plan document: create, edit, delete, references, Markdown, scope,
milestones, comments and the activity feed; every view with the outsider."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from plans.choices import PlanStatus, Raci
from plans.models import Comment, Milestone, Plan, PlanRole
from plans.notify import events
from plans.services import plans as services
from plans.templatetags.plans_markdown import markdown_filter
from servers.choices import Environment
from servers.models import Tag
from tests import factories
from tests.pages import page_html

pytestmark = pytest.mark.django_db

PLAN_POST = {
    "title": "OpenSSL CVE-2024-0001",
    "kind": "security_patch",
    "risk": "critical",
    "objective": "Patch **every** web server.",
    "success_criteria": "",
    "packages": "openssl, libssl3",
    "references": "CVE-2024-0001\nDSA-5678-1\nhttps://example.org/advisory",
    "backup_plan": "",
    "test_procedure": "",
    "rollback_plan": "",
    "communication_plan": "",
    "lessons_learned": "",
}


@pytest.fixture
def plan(team, planner):
    return services.plan_create(team=team, title="Kernel update", owner=planner, by=planner)


def _post(data, **overrides):
    return {**data, **overrides}


# --- create -------------------------------------------------------------------


def test_planner_creates_a_plan_with_default_milestones(client_for, planner):
    response = client_for(planner).post("/plans/new/", _post(PLAN_POST, owner=planner.pk))
    assert response.status_code == 302
    plan = Plan.objects.get()
    assert response["Location"] == f"/plans/{plan.pk}/"
    assert plan.packages == ["openssl", "libssl3"]
    assert [m.name for m in plan.milestones.order_by("position")] == [
        "assessment",
        "testing",
        "deployment",
        "review",
    ]
    assert PlanRole.objects.get(plan=plan).raci == Raci.ACCOUNTABLE
    assert plan.status == PlanStatus.DRAFT and plan.created_by == planner


def test_another_teams_person_cant_be_the_owner(client_for, planner, outsider):
    response = client_for(planner).post("/plans/new/", _post(PLAN_POST, owner=outsider.pk))
    assert response.status_code == 400
    assert "Choose a member of this team." in response.content.decode()
    assert not Plan.objects.exists()


def test_service_refuses_an_outsider_owner_too(team, planner, outsider):
    with pytest.raises(Exception, match="members of the plan"):
        services.plan_create(team=team, title="x", owner=outsider, by=planner)
    assert not Plan.objects.exists()


def test_viewer_and_outsider_cant_create(client_for, viewer, outsider, planner):
    assert (
        client_for(viewer).post("/plans/new/", _post(PLAN_POST, owner=planner.pk)).status_code
        == 403
    )
    assert client_for(outsider).get("/plans/new/").status_code == 200  # their own team's form
    client_for(outsider).post("/plans/new/", _post(PLAN_POST, owner=planner.pk))
    assert not Plan.objects.filter(team__slug="blue").exists()


# --- references ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text,kind,link",
    [
        ("CVE-2024-3094", "cve", "https://www.cve.org/CVERecord?id=CVE-2024-3094"),
        ("cve-2021-44228", "cve", "https://www.cve.org/CVERecord?id=CVE-2021-44228"),
        ("DSA-5678-1", "advisory", "https://security-tracker.debian.org/tracker/DSA-5678-1"),
        ("DLA-3456-1", "advisory", "https://security-tracker.debian.org/tracker/DLA-3456-1"),
        ("USN-6543-1", "advisory", "https://ubuntu.com/security/notices/USN-6543-1"),
        ("RHSA-2024:1234", "advisory", "https://access.redhat.com/errata/RHSA-2024:1234"),
        ("https://example.org/x?y=1", "link", "https://example.org/x?y=1"),
    ],
)
def test_references_are_recognised_and_linked(text, kind, link):
    ref = services.reference_parse(text)
    assert (ref.kind, ref.url) == (kind, link)


@pytest.mark.parametrize(
    "text", ["CVE-2024-12", "CVE-24-12345", "javascript:alert(1)", "DSA-x", "ftp://a/b", "hello"]
)
def test_bad_references_are_refused(text):
    with pytest.raises(ValidationError):
        services.reference_parse(text)


def test_a_bad_reference_is_shown_at_the_field(client_for, planner):
    response = client_for(planner).post(
        "/plans/new/", _post(PLAN_POST, owner=planner.pk, references="CVE-2024-1\njavascript:x")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "CVE-2024-1 is not a CVE id" in body and "javascript:x" in body
    assert not Plan.objects.exists()


def test_references_are_linked_on_the_page(client_for, planner):
    client_for(planner).post("/plans/new/", _post(PLAN_POST, owner=planner.pk))
    page = page_html(client_for(planner), f"/plans/{Plan.objects.get().pk}/")
    assert 'href="https://www.cve.org/CVERecord?id=CVE-2024-0001"' in page
    assert 'href="https://security-tracker.debian.org/tracker/DSA-5678-1"' in page


# --- Markdown -----------------------------------------------------------------


@pytest.mark.parametrize(
    "evil,gone",
    [
        ("<script>alert(1)</script>", "<script"),
        ('<img src=x onerror="alert(1)">', "onerror"),
        ('<a href="#" onclick="steal()">x</a>', "onclick"),
        ("[click](javascript:alert(1))", "javascript:"),
        ('<a href="javascript:alert(1)">x</a>', "javascript:"),
        ("<iframe src=//evil></iframe>", "<iframe"),
        ('<p style="position:fixed">x</p>', "style="),
    ],
)
def test_markdown_is_sanitised(evil, gone):
    html = str(markdown_filter(f"Hello **there**\n\n{evil}"))
    assert "<strong>there</strong>" in html
    assert gone not in html


def test_markdown_renders_lists_links_and_code():
    html = str(markdown_filter("- a\n- b\n\n[docs](https://example.org) `apt-get`"))
    assert "<li>a</li>" in html and 'href="https://example.org"' in html
    assert "<code>apt-get</code>" in html


def test_plan_page_renders_markdown_safely(client_for, planner, team):
    plan = services.plan_create(
        team=team,
        title="<b>T</b>",
        owner=planner,
        by=planner,
        objective="**bold** <script>alert('x')</script>",
        rollback_plan="1. stop\n2. restore",
    )
    page = page_html(client_for(planner), f"/plans/{plan.pk}/")
    assert "<strong>bold</strong>" in page
    assert "<script>alert" not in page
    assert "&lt;b&gt;T&lt;/b&gt;" in page  # the title is escaped, not rendered
    assert "<li>restore</li>" in page


# --- the plan page ------------------------------------------------------------


def test_plan_page_shows_every_section(client_for, planner, viewer, outsider, plan):
    assert client_for(outsider).get(f"/plans/{plan.pk}/").status_code == 404
    page = page_html(client_for(viewer), f"/plans/{plan.pk}/")
    for heading in (
        "Goals and objectives",
        "Success criteria",
        "References",
        "Milestones",
        "Servers in scope",
        "Backup plan",
        "Test procedure",
        "Rollback plan",
        "Communication plan",
        'id="windows"',
        'id="tasks"',
        'id="timeline"',
        "Activity",
    ):
        assert heading in page, heading
    assert "Edit plan" not in page  # a viewer gets no edit button


def test_plan_page_links_the_plan_it_was_made_from(client_for, team, planner, plan):
    copy = services.plan_create(team=team, title="Kernel update, May", owner=planner, by=planner)
    Plan.objects.filter(pk=copy.pk).update(created_from=plan)
    page = page_html(client_for(planner), f"/plans/{copy.pk}/")
    assert f'<a href="/plans/{plan.pk}/">Kernel update</a>' in page


def test_scope_lists_environment_and_pending_updates_for_the_plans_packages(
    client_for, planner, team, plan
):
    from servers.models import InventorySnapshot, PendingUpdate

    web = factories.ServerFactory(team=team, hostname="web-prd-01")
    stg = factories.ServerFactory(team=team, hostname="web-stg-01", environment=Environment.STAGING)
    services.plan_scope_add(plan=plan, servers=[web, stg], by=planner)
    services.plan_update(plan=plan, by=planner, packages=["openssl"])
    snap = InventorySnapshot.objects.create(
        server=web,
        taken_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        format="apt",
        source="upload",
        content_hash="x",
        data="",
    )
    PendingUpdate.objects.create(
        server=web,
        snapshot=snap,
        name="openssl",
        current="3.0.1",
        candidate="3.0.2",
        suite="bookworm-security",
        is_security=True,
    )
    PendingUpdate.objects.create(
        server=web, snapshot=snap, name="vim", current="1", candidate="2", suite="bookworm"
    )
    page = page_html(client_for(planner), f"/plans/{plan.pk}/")
    scope = page.split('data-testid="scope-table"')[1].split("</table>")[0]
    assert "web-stg-01" in scope and "Staging" in scope and "Production" in scope
    assert "3.0.1 → 3.0.2" in scope and "(security)" in scope
    assert "vim" not in scope


# --- edit and versions --------------------------------------------------------


def _edit_post(plan, **overrides):
    """The full edit form as loaded now: every field with its base (hidden) twin."""
    loaded = {
        **PLAN_POST,
        "title": plan.title,
        "kind": plan.kind,
        "risk": plan.risk,
        "objective": plan.objective,
        "packages": " ".join(plan.packages),
        "owner": plan.owner_id,
        "references": "",
    }
    data = {**loaded, **{f"base-{k}": v for k, v in loaded.items()}}
    data.update(overrides)
    return data


def test_edit_saves_only_the_changed_fields(client_for, planner, admin, plan):
    data = _edit_post(plan, title="New")
    # Someone else's save of another field meanwhile is kept, not overwritten.
    services.plan_update(plan=Plan.objects.get(pk=plan.pk), by=admin, objective="Theirs")
    response = client_for(planner).post(f"/plans/{plan.pk}/edit/", data)
    assert response.status_code == 302
    fresh = Plan.objects.get(pk=plan.pk)
    assert (fresh.title, fresh.objective) == ("New", "Theirs")


def test_edit_form_carries_the_values_it_started_from(client_for, planner, plan):
    page = client_for(planner).get(f"/plans/{plan.pk}/edit/").content.decode()
    assert f'name="base-title" value="{plan.title}"' in page
    assert 'name="base-rollback_plan"' in page and 'name="version"' not in page


def test_a_field_changed_meanwhile_gets_the_merge_view_and_the_rest_is_saved(
    client_for, planner, admin, plan
):
    loaded = _edit_post(plan)
    services.plan_update(plan=Plan.objects.get(pk=plan.pk), by=admin, objective="Theirs wins")
    response = client_for(planner).post(
        f"/plans/{plan.pk}/edit/", {**loaded, "objective": "Mine is better", "title": "Mine"}
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-testid="merge-objective"' in body and "Theirs wins" in body
    assert "Mine is better" in body and "Save mine over theirs" not in body
    assert 'data-testid="merge-title"' not in body
    fresh = Plan.objects.get(pk=plan.pk)
    assert (fresh.objective, fresh.title) == ("Theirs wins", "Mine")


def test_viewer_sees_edit_form_read_only_and_cant_post(client_for, viewer, outsider, plan):
    page = client_for(viewer).get(f"/plans/{plan.pk}/edit/")
    assert page.status_code == 200 and "<fieldset disabled>" in page.content.decode()
    data = _edit_post(plan, title="Not yours")
    assert client_for(viewer).post(f"/plans/{plan.pk}/edit/", data).status_code == 403
    assert client_for(outsider).post(f"/plans/{plan.pk}/edit/", data).status_code == 404
    assert Plan.objects.get(pk=plan.pk).title == plan.title


# --- sections in place ----------------------------------------------------------

HX = {"HTTP_HX_REQUEST": "true"}


def test_section_edit_form_carries_its_fields_and_their_base(client_for, planner, plan):
    response = client_for(planner).get(f"/plans/{plan.pk}/doc/objective/?edit=1", **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'name="objective"' in body and 'name="base-objective"' in body
    assert 'name="success_criteria"' in body and 'name="rollback_plan"' not in body


def test_section_save_returns_the_rendered_section(client_for, planner, plan):
    data = {"rollback_plan": "**Boot** the old kernel", "base-rollback_plan": ""}
    response = client_for(planner).post(f"/plans/{plan.pk}/doc/rollback_plan/", data, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<strong>Boot</strong>" in body
    assert 'id="section-rollback_plan"' in body and "<form" not in body
    assert Plan.objects.get(pk=plan.pk).rollback_plan == "**Boot** the old kernel"


def test_section_refusal_shows_at_the_field_inside_the_section(client_for, planner, plan):
    data = {"references": "CVE-nope", "base-references": "", "packages": "", "base-packages": ""}
    response = client_for(planner).post(f"/plans/{plan.pk}/doc/references/", data, **HX)
    body = response.content.decode()
    assert response.status_code == 400 and "is not a CVE id" in body
    assert 'id="section-references"' in body and "<html" not in body


def test_section_conflict_shows_the_merge_view_inside_the_section(client_for, planner, admin, plan):
    services.plan_update(plan=Plan.objects.get(pk=plan.pk), by=admin, objective="Theirs\nline 2")
    data = {
        "objective": "Mine",
        "base-objective": "",
        "success_criteria": "Saved anyway",
        "base-success_criteria": "",
    }
    response = client_for(planner).post(f"/plans/{plan.pk}/doc/objective/", data, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="merge-objective"' in body
    assert "Keep mine" in body and "Keep theirs" in body and "Save the merged text" in body
    assert ">Theirs\nline 2\nMine</textarea>" in body  # both, to edit
    fresh = Plan.objects.get(pk=plan.pk)
    assert (fresh.objective, fresh.success_criteria) == ("Theirs\nline 2", "Saved anyway")


def test_section_access(client_for, viewer, outsider, plan):
    url = f"/plans/{plan.pk}/doc/objective/"
    assert client_for(viewer).get(url, **HX).status_code == 200
    assert client_for(viewer).get(url + "?edit=1", **HX).status_code == 403
    assert client_for(viewer).post(url, {"objective": "x", "base-objective": ""}).status_code == 403
    assert client_for(outsider).get(url, **HX).status_code == 404
    assert (
        client_for(outsider).post(url, {"objective": "x", "base-objective": ""}).status_code == 404
    )
    assert client_for(viewer).get(f"/plans/{plan.pk}/doc/header/").status_code == 404
    assert Plan.objects.get(pk=plan.pk).objective == ""


# --- delete -------------------------------------------------------------------


def test_a_draft_can_be_deleted_but_an_approved_plan_cannot(client_for, planner, team, plan):
    approved = factories.PlanFactory(team=team, owner=planner, status=PlanStatus.APPROVED)
    client_for(planner).post(f"/plans/{approved.pk}/delete/")
    assert Plan.objects.filter(pk=approved.pk).exists()
    response = client_for(planner).post(f"/plans/{plan.pk}/delete/")
    assert response.status_code == 302 and not Plan.objects.filter(pk=plan.pk).exists()


def test_outsider_and_viewer_cant_delete(client_for, outsider, viewer, plan):
    assert client_for(outsider).post(f"/plans/{plan.pk}/delete/").status_code == 404
    assert client_for(viewer).post(f"/plans/{plan.pk}/delete/").status_code == 403
    assert Plan.objects.filter(pk=plan.pk).exists()


# --- scope --------------------------------------------------------------------


@pytest.fixture
def fleet(team, other_team):
    web = Tag.objects.create(team=team, name="web")
    servers = {
        "web-prd-01": factories.ServerFactory(team=team, hostname="web-prd-01"),
        "web-stg-01": factories.ServerFactory(
            team=team, hostname="web-stg-01", environment=Environment.STAGING
        ),
        "db-prd-01": factories.ServerFactory(team=team, hostname="db-prd-01"),
        "red-01": factories.ServerFactory(team=other_team, hostname="red-01"),
    }
    servers["web-prd-01"].tags.add(web)
    return servers


def test_scope_finder_searches_by_name_tag_and_environment(client_for, planner, plan, fleet):
    client = client_for(planner)
    url = f"/plans/{plan.pk}/scope/"
    found = client.get(url, {"q": "web"}).content.decode().split('data-testid="scope-add"')[1]
    assert "web-prd-01" in found and "web-stg-01" in found and "db-prd-01" not in found
    found = client.get(url, {"tag": "web"}).content.decode().split('data-testid="scope-add"')[1]
    assert "web-prd-01" in found and "web-stg-01" not in found
    found = client.get(url, {"environment": "staging"}).content.decode()
    found = found.split('data-testid="scope-add"')[1]
    assert "web-stg-01" in found and "Staging" in found and "web-prd-01" not in found
    assert "red-01" not in client.get(url, {"q": "red"}).content.decode()


def test_scope_add_and_remove(client_for, planner, plan, fleet):
    client = client_for(planner)
    url = f"/plans/{plan.pk}/scope/"
    ids = [fleet["web-prd-01"].pk, fleet["web-stg-01"].pk]
    assert client.post(url, {"action": "add", "servers": ids}).status_code == 302
    assert set(plan.servers.values_list("hostname", flat=True)) == {"web-prd-01", "web-stg-01"}
    assert Plan.objects.get(pk=plan.pk).scope_changed_at is not None
    client.post(url, {"action": "remove", "servers": [fleet["web-stg-01"].pk]})
    assert list(plan.servers.values_list("hostname", flat=True)) == ["web-prd-01"]


def test_another_teams_server_posted_by_id_is_refused(client_for, planner, plan, fleet):
    response = client_for(planner).post(
        f"/plans/{plan.pk}/scope/",
        {"action": "add", "servers": [fleet["web-prd-01"].pk, fleet["red-01"].pk]},
    )
    assert response.status_code == 400
    assert "is not a server of this team" in response.content.decode()
    assert not plan.servers.exists()


def test_scope_service_refuses_another_teams_server(planner, plan, fleet):
    with pytest.raises(Exception, match="another team"):
        services.plan_scope_add(plan=plan, servers=[fleet["red-01"]], by=planner)
    assert not plan.servers.exists()


def test_scope_viewer_and_outsider(client_for, viewer, outsider, plan, fleet):
    url = f"/plans/{plan.pk}/scope/"
    assert client_for(outsider).get(url).status_code == 404
    assert client_for(viewer).get(url).status_code == 200
    post = {"action": "add", "servers": [fleet["web-prd-01"].pk]}
    assert client_for(viewer).post(url, post).status_code == 403
    assert client_for(outsider).post(url, post).status_code == 404
    assert not plan.servers.exists()


# --- milestones ---------------------------------------------------------------


def test_milestones_add_rename_reorder_remove(client_for, planner, plan):
    client = client_for(planner)
    response = client.post(
        f"/plans/{plan.pk}/milestones/",
        {"name": "verification", "starts_on": "2030-01-05", "due_on": "2030-01-06"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "verification" in response.content.decode()
    names = lambda: list(plan.milestones.order_by("position").values_list("name", flat=True))  # noqa: E731
    assert names()[-1] == "verification"
    added = plan.milestones.get(name="verification")
    client.post(f"/plans/milestones/{added.pk}/move/", {"direction": "up"})
    assert names() == ["assessment", "testing", "deployment", "verification", "review"]
    response = client.post(
        f"/plans/milestones/{added.pk}/",
        {
            "name": "smoke test",
            "starts_on": "2030-01-05",
            "due_on": "2030-01-07",
            "signoff_roles": ["approver"],
            "signoff_users": [planner.pk],
            "signoff_count": 2,
            "version": added.version,
        },
    )
    assert response.status_code == 302
    added.refresh_from_db()
    assert (added.name, added.signoff_roles, added.signoff_count) == ("smoke test", ["approver"], 2)
    assert list(added.signoff_users.all()) == [planner]
    client.post(f"/plans/milestones/{added.pk}/delete/")
    assert names() == ["assessment", "testing", "deployment", "review"]
    assert list(plan.milestones.values_list("position", flat=True).order_by("position")) == [
        0,
        1,
        2,
        3,
    ]


def test_milestone_due_before_start_is_refused(client_for, planner, plan):
    response = client_for(planner).post(
        f"/plans/{plan.pk}/milestones/",
        {"name": "x", "starts_on": "2030-01-05", "due_on": "2030-01-01"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400 and "before the start" in response.content.decode()
    assert not plan.milestones.filter(name="x").exists()


def test_milestone_signoff_people_must_be_team_members(client_for, planner, outsider, plan):
    m = plan.milestones.first()
    response = client_for(planner).post(
        f"/plans/milestones/{m.pk}/",
        {"name": m.name, "signoff_users": [outsider.pk], "signoff_count": 1, "version": m.version},
    )
    assert response.status_code == 400
    assert not Milestone.objects.get(pk=m.pk).signoff_users.exists()


def test_a_stale_milestone_edit_is_refused(client_for, planner, admin, plan):
    m = plan.milestones.first()
    services.milestone_update(
        milestone=m, version=m.version, by=admin, name="theirs", starts_on=None, due_on=None
    )
    response = client_for(planner).post(
        f"/plans/milestones/{m.pk}/", {"name": "mine", "signoff_count": 1, "version": 1}
    )
    assert response.status_code == 409
    assert "theirs" in response.content.decode() and "mine" in response.content.decode()
    assert Milestone.objects.get(pk=m.pk).name == "theirs"


def test_milestone_views_outsider_and_viewer(client_for, outsider, viewer, plan):
    m = plan.milestones.first()
    for url in (f"/plans/milestones/{m.pk}/move/", f"/plans/milestones/{m.pk}/delete/"):
        assert client_for(outsider).post(url).status_code == 404
        assert client_for(viewer).post(url).status_code == 403
    assert (
        client_for(viewer).post(f"/plans/{plan.pk}/milestones/", {"name": "x"}).status_code == 403
    )
    assert plan.milestones.count() == 4


# --- comments and activity ----------------------------------------------------


def test_comment_mentions_only_team_members_and_notifies(
    client_for, planner, engineer, outsider, plan, monkeypatch
):
    seen = []
    monkeypatch.setattr(events, "comment_posted", lambda **kw: seen.append(kw))
    body = f"@{engineer.username} please check; cc @{outsider.username} and @nobody."
    response = client_for(planner).post(
        f"/plans/{plan.pk}/comments/", {"body": body}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    comment = Comment.objects.get()
    assert list(comment.mentions.all()) == [engineer]
    assert seen[0]["mentioned_users"] == [engineer] and seen[0]["by"] == planner
    assert 'hx-trigger="refresh" hx-swap="outerHTML" data-live-panel="activity"' in (
        response.content.decode()
    )
    assert "please check" in response.content.decode()


def test_empty_comment_is_refused(client_for, planner, plan):
    response = client_for(planner).post(
        f"/plans/{plan.pk}/comments/", {"body": "  "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400 and not Comment.objects.exists()


def test_comment_outsider_and_viewer(client_for, outsider, viewer, engineer, plan):
    assert (
        client_for(outsider).post(f"/plans/{plan.pk}/comments/", {"body": "x"}).status_code == 404
    )
    # Viewers (stakeholders) may answer in the comments, and only that.
    assert client_for(viewer).post(f"/plans/{plan.pk}/comments/", {"body": "x"}).status_code == 302
    assert (
        client_for(engineer).post(f"/plans/{plan.pk}/comments/", {"body": "ok"}).status_code == 302
    )
    assert Comment.objects.count() == 2
    # Commenting is all a viewer gained: status moves and edits stay refused.
    moved = client_for(viewer).post(f"/plans/{plan.pk}/status/", {"to_status": "in_review"})
    assert moved.status_code == 403


def test_activity_lists_status_changes_and_comments_newest_first(
    client_for, planner, plan, outsider
):
    services.plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    services.comment_post(plan=plan, body="Looks **good**", by=planner)
    response = client_for(planner).get(f"/plans/{plan.pk}/activity/")
    body = response.content.decode()
    assert body.index("<strong>good</strong>") < body.index("In review")
    assert 'hx-trigger="refresh" hx-swap="outerHTML" data-live-panel="activity"' in body
    assert client_for(outsider).get(f"/plans/{plan.pk}/activity/").status_code == 404


def test_mentions_parse():
    assert services.mentions_in("hi @ann, @bob.smith. mail a@b.c @ann") == ["ann", "bob.smith"]


def test_activity_shows_the_latest_50_and_all_on_request(client_for, planner, plan):
    Comment.objects.bulk_create(Comment(plan=plan, author=planner, body=f"c{i}") for i in range(60))
    client = client_for(planner)
    body = client.get(f"/plans/{plan.pk}/activity/").content.decode()
    assert body.count("activity-comment") == 50 and 'data-testid="activity-more"' in body
    body = client.get(f"/plans/{plan.pk}/activity/", {"all": "1"}).content.decode()
    assert body.count("activity-comment") == 60 and "activity-more" not in body
    assert "activity/?all=1" in body  # polling keeps showing everything


def test_keep_mine_from_the_full_page_merge_view_writes_only_that_field(
    client_for, planner, admin, plan
):
    loaded = _edit_post(plan)
    services.plan_update(plan=Plan.objects.get(pk=plan.pk), by=admin, objective="Theirs")
    services.plan_update(plan=Plan.objects.get(pk=plan.pk), by=admin, rollback_plan="Theirs too")
    client = client_for(planner)
    page = client.post(f"/plans/{plan.pk}/edit/", {**loaded, "objective": "Mine"})
    assert page.status_code == 409
    body = page.content.decode()
    # The merge view's "keep mine" is a plain form (no htmx on this page): mine, theirs as base.
    assert f'action="/plans/{plan.pk}/doc/objective/"' in body and "hx-post" not in body
    response = client.post(
        f"/plans/{plan.pk}/doc/objective/", {"objective": "Mine", "base-objective": "Theirs"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/plans/{plan.pk}/#section-objective"
    fresh = Plan.objects.get(pk=plan.pk)
    assert (fresh.objective, fresh.rollback_plan, fresh.success_criteria) == (
        "Mine",
        "Theirs too",
        "",
    )
