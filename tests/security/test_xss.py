"""XSS: hostile text in every user-controlled field never reaches a page, an htmx
partial or an email unescaped.

Hypothesis mixes script tags, attribute breakouts, javascript: URLs and Markdown
tricks into generated text, writes it straight into the stored rows (bypassing
validation, so the escaping itself is what is tested), renders every page that
shows those rows and inspects the HTML with html.parser: no inline <script>, no
on* attribute, no javascript: URL, no frame."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from patchplan.accounts.models import User
from patchplan.notifications.emails import build_message
from patchplan.notifications.models import Notification
from patchplan.notifications.services import Undeliverable
from patchplan.teams.models import FreezePeriod, Team
from plans.models import (
    BackupRecord,
    ChangeApproval,
    ChecklistItem,
    Comment,
    LogEntry,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanReference,
    Task,
)
from plans.models import TestRun as EvidenceTestRun  # not a pytest class
from servers.models import InventoryToken, PendingUpdate, Server, ServerPackage, Tag
from servers.services import normalize_hostname
from tests.pages import with_loaded_parts

from .html_check import html_problems

PAYLOADS = [
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    "'><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "<iframe src=//evil.example></iframe>",
    '<a href="javascript:alert(1)">click</a>',
    '![x](x" onerror="alert(1))',
    "<svg/onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "{{ 7|add:7 }}{% now 'Y' %}",
    "`<script>alert(1)</script>`",
    "<<script>alert(1)//<</script>",
]

_filler = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12
)
hostile_text = st.lists(
    st.one_of(st.sampled_from(PAYLOADS), _filler), min_size=1, max_size=4
).flatmap(lambda parts: st.sampled_from(PAYLOADS).map(lambda p: p + "".join(parts)))

xss = settings(
    database=None,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The tests that render every page (or post every form) per example: each example costs
# 2-3 s, and 25 of them were the suite's slowest tests. Fewer generated mixtures, and one
# example that plants every payload at once, so none is left to chance.
xss_every_page = settings(xss, max_examples=10)
EVERY_PAYLOAD = " ".join(PAYLOADS)


def _fit(text: str, model, field: str) -> str:
    length = model._meta.get_field(field).max_length
    return text[:length] if length else text


def _put(queryset, text: str, *fields: str) -> None:
    queryset.update(**{f: _fit(text, queryset.model, f) for f in fields})


def plant(world, text: str) -> None:
    """Write `text` into every user-controlled text field of the world."""
    team = world["team"]
    plan = world["plan"]
    _put(Team.objects.filter(pk=team.pk), text, "name")
    _put(User.objects.filter(pk__in=[p.pk for p in world["people"]]), text, "first_name")
    _put(User.objects.filter(pk__in=[p.pk for p in world["people"]]), text[::-1], "last_name")
    _put(Server.objects.filter(team=team), text, "fqdn", "notes", "os_name")
    # Hostnames and tags are checked on the way in (RFC 1123; [\w.:/+-]): plant what
    # the check lets through, e.g. the tag "javascript:alert".
    with contextlib.suppress(ValidationError):
        Server.objects.filter(team=team).update(hostname=normalize_hostname(text))
    tag = re.sub(r"[^\w.:/+-]", "", text)[:64] or "javascript:alert"
    Tag.objects.filter(team=team).update(name=tag)
    _put(ServerPackage.objects.filter(server__team=team), text, "name", "version")
    _put(PendingUpdate.objects.filter(server__team=team), text, "name", "current", "candidate")
    _put(
        Plan.objects.filter(pk=plan.pk),
        text,
        "title",
        "objective",
        "success_criteria",
        "backup_plan",
        "test_procedure",
        "rollback_plan",
        "communication_plan",
        "lessons_learned",
    )
    Plan.objects.filter(pk=plan.pk).update(packages=[text[:200]])
    _put(PlanReference.objects.filter(plan=plan), text, "identifier")
    # A link that passes validation: no spaces, http(s).
    PlanReference.objects.filter(plan=plan, kind="link").update(
        url=("https://example.com/" + text.replace(" ", ""))[:500]
    )
    _put(Milestone.objects.filter(plan=plan), text, "name")
    _put(MaintenanceWindow.objects.filter(plan=plan), text, "title")
    _put(Task.objects.filter(plan=plan), text, "title", "description")
    _put(ChecklistItem.objects.filter(task__plan=plan), text, "text")
    _put(Comment.objects.filter(plan=plan), text, "body")
    _put(LogEntry.objects.filter(plan=plan), text, "body")
    _put(BackupRecord.objects.filter(plan=plan), text, "what", "location", "command", "notes")
    _put(EvidenceTestRun.objects.filter(plan=plan), text, "procedure", "notes")
    _put(ChangeApproval.objects.filter(plan=plan), text, "change_id", "approved_by")
    # A link that passes validation (http(s), no spaces), and one that did not (a row
    # from outside the form: an import, the admin): never an href.
    ChangeApproval.objects.filter(plan=plan).update(
        url=("https://example.com/" + text.replace(" ", ""))[:500]
    )
    first = ChangeApproval.objects.filter(plan=plan).first()
    ChangeApproval.objects.create(
        plan=plan,
        change_id=_fit(text, ChangeApproval, "change_id"),
        url="javascript:alert(1)",
        approved_by=_fit(text, ChangeApproval, "approved_by"),
        approved_at=first.approved_at,
    )
    _put(FreezePeriod.objects.filter(team=team), text, "reason")
    _put(InventoryToken.objects.filter(team=team), text, "name")
    for n in Notification.objects.filter(team=team):
        n.context = {
            key: (value if key == "path" or not isinstance(value, str) else text)
            for key, value in n.context.items()
        }
        n.save(update_fields=["context"])
    cache.clear()


def pages(world) -> list[tuple[str, dict]]:
    plan, window, server, task = world["plan"], world["window"], world["server"], world["task"]
    htmx = {"HTTP_HX_REQUEST": "true"}
    run = reverse("plan_window_run", args=[plan.pk, window.pk])
    return [
        (reverse("dashboard"), {}),
        (reverse("dashboard_activity"), htmx),
        (reverse("calendar"), {}),
        (reverse("calendar") + "?view=week", {}),
        (reverse("calendar") + "?view=list", {}),
        (reverse("server_list"), {}),
        (reverse("server_list") + "?q=a", htmx),
        (reverse("server_detail", args=[server.pk]), {}),
        (reverse("server_detail", args=[server.pk]) + "?part=packages", htmx),
        (reverse("server_detail", args=[server.pk]) + "?edit=1", {}),
        (reverse("server_diff", args=[server.pk]), {}),
        (reverse("server_fleet_search") + "?name=openssl", {}),
        (reverse("server_fleet_search") + "?name=openssl", htmx),
        (reverse("server_fleet_updates"), {}),
        (reverse("team_api_tokens"), {}),
        (reverse("plan_list"), {}),
        (reverse("plan_list"), htmx),
        (reverse("plan_detail", args=[plan.pk]), {}),
        (reverse("plan_edit", args=[plan.pk]), {}),
        (reverse("plan_activity", args=[plan.pk]), htmx),
        (reverse("plan_scope", args=[plan.pk]), {}),
        (reverse("plan_raci", args=[plan.pk]), {}),
        (reverse("plan_evidence", args=[plan.pk]), {}),
        (reverse("plan_signoff", args=[plan.pk]), {}),
        (reverse("plan_log", args=[plan.pk]), {}),
        (reverse("log_entry", args=[plan.pk, world["entry"].pk]), {}),
        (reverse("plan_history", args=[plan.pk]), {}),
        (reverse("plan_review", args=[plan.pk]), {}),
        (reverse("plan_report", args=[plan.pk]), {}),
        (reverse("window_detail", args=[window.pk]), {}),
        (reverse("task_detail", args=[task.pk]), {}),
        (reverse("task_detail", args=[task.pk]), htmx),
        (run, {}),
        (reverse("plan_window_run_board", args=[plan.pk, window.pk]), htmx),
        (reverse("my_tasks"), {}),
        (reverse("template_list"), {}),
        (reverse("notification_list"), {}),
        (reverse("notification_bell"), htmx),
        (reverse("notification_failed_list"), {}),
        (reverse("reports_index"), {}),
        (reverse("report_posture"), {}),
        (reverse("report_workflow"), {}),
        (reverse("report_downtime"), {}),
        (reverse("team_settings"), {}),
        (reverse("team_members"), {}),
        (reverse("profile"), {}),
    ]


def _get(client, url, headers):
    response = client.get(url, **headers)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    # With the parts the page loads right after itself (the plan page's cards).
    return with_loaded_parts(client, response.content.decode())


@pytest.mark.django_db
def test_every_page_of_the_world_renders_clean_text(client, world, admin):
    """The baseline: with ordinary text no page trips the inspector (so a hit is real)."""
    client.force_login(admin)
    for url, headers in pages(world):
        assert html_problems(_get(client, url, headers)) == [], url


@pytest.mark.django_db
def test_the_inspector_catches_what_it_should():
    assert html_problems('<p title="x" onmouseover="alert(1)">')
    assert html_problems('<a href=" JaVa\tScript:alert(1)">x</a>')
    assert html_problems("<script>alert(1)</script>")
    assert html_problems("<iframe src=x></iframe>")
    assert not html_problems('<p title="&quot; onmouseover=&quot;alert(1)">&lt;script&gt;</p>')
    assert not html_problems('<script src="/static/js/app.js"></script>')


@pytest.mark.django_db
@xss_every_page
@given(text=hostile_text)
@example(text=EVERY_PAYLOAD)
def test_hostile_text_is_escaped_on_every_page_and_partial(client, world, admin, text):
    plant(world, text)
    client.force_login(admin)
    problems = []
    for url, headers in pages(world):
        for problem in html_problems(_get(client, url, headers)):
            problems.append(f"{url} {'(htmx)' if headers else ''}: {problem}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.django_db
@xss
@given(text=hostile_text)
def test_hostile_text_is_escaped_in_emails(world, text):
    plant(world, text)
    built = set()
    for n in Notification.objects.select_related("recipient", "team"):
        try:
            message = build_message(n)
        except Undeliverable:
            continue
        built.add(n.kind)
        for html, mimetype in message.alternatives:
            assert mimetype == "text/html"
            assert html_problems(html) == [], f"{n.kind}: {html_problems(html)}"
        # Header injection: the subject is one line whatever the titles hold.
        assert "\n" not in message.subject and "\r" not in message.subject
    # At least 12 of the 14 kinds render here (the world has a row of each).
    assert len(built) >= 12, sorted(built)


@pytest.mark.django_db
@xss
@given(text=hostile_text)
def test_exports_are_not_served_as_html(client, world, admin, text):
    """The Markdown report and CSV exports carry the text as written (they are data),
    so they must never be sent as HTML a browser would run."""
    plant(world, text)
    client.force_login(admin)
    plan = world["plan"]
    for url in [
        reverse("plan_report_md", args=[plan.pk]),
        reverse("plan_export", args=[plan.pk]),
        reverse("report_posture") + "?format=csv",
        reverse("report_workflow") + "?format=csv",
        reverse("report_downtime") + "?format=csv",
        reverse("server_fleet_search") + "?name=openssl&export=csv",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "html" not in response["Content-Type"], url
        assert response["X-Content-Type-Options"] == "nosniff", url


# --- Through the forms: what validation lets in, or the error that quotes it -------


@pytest.mark.django_db
@xss_every_page
@given(text=hostile_text)
@example(text=EVERY_PAYLOAD)
def test_hostile_input_through_the_forms_is_refused_or_escaped(client, world, planner, admin, text):
    """Hostnames, tags, package listings, plan texts and references typed by a user:
    either refused with a message next to the field, or stored; both pages are clean."""
    client.force_login(planner)
    server, plan = world["server"], world["plan"]
    line = text.replace("\n", " ")[:200]
    answers = [
        client.post(
            reverse("server_create"),
            {
                "hostname": text[:253],
                "fqdn": text[:253],
                "environment": "production",
                "criticality": "medium",
                "tags": text[:200],
                "notes": text,
            },
        ),
        client.post(
            reverse("server_import", args=[server.pk]),
            {"text": f"{line}\t{line}\tamd64\nadduser\t3.134\tall\n", "format": ""},
        ),
        client.post(
            reverse("server_import", args=[server.pk]),
            {"text": f"{line}/stable-security 9 amd64 [upgradable from: {line}]\n"},
        ),
        client.post(
            reverse("plan_create"),
            {
                "title": text[:200],
                "kind": "security_patch",
                "risk": "low",
                "owner": planner.pk,
                "objective": text,
                "references": f"{text}\njavascript:alert(1)\nhttps://x.example/{line}",
                "packages": text[:100],
            },
        ),
        client.post(reverse("comment_create", args=[plan.pk]), {"body": text}),
        client.post(
            reverse("change_approval_create", args=[plan.pk]),
            {
                "approval-change_id": text[:100],
                "approval-url": text[:500],
                "approval-approved_by": text[:200],
                "approval-approved_at": "2026-12-01T09:00",
            },
        ),
        client.post(
            reverse("change_approval_create", args=[plan.pk]),
            {
                "approval-change_id": line[:100],
                "approval-url": f"https://itsm.example/{line.replace(' ', '')}"[:500],
                "approval-approved_by": line,
                "approval-approved_at": "2026-12-01T09:00",
            },
        ),
        client.post(
            reverse("log_create", args=[plan.pk]),
            {"kind": "note", "body": text},
            HTTP_HX_REQUEST="true",
        ),
    ]
    problems = []
    for response in answers:
        assert response.status_code < 500
        if response.status_code == 302:
            response = client.get(response["Location"])
        problems += [
            f"{response.request['PATH_INFO']}: {p}"
            for p in html_problems(response.content.decode())
        ]
    # The redirects above showed the new server and plan; the lists and the server page
    # show the rest (every page is covered by the planted test above).
    for url in [
        reverse("server_list"),
        reverse("server_detail", args=[server.pk]),
        reverse("plan_list"),
        reverse("plan_detail", args=[plan.pk]),
        reverse("plan_log", args=[plan.pk]),
        reverse("plan_evidence", args=[plan.pk]),
        reverse("plan_report", args=[plan.pk]),
    ]:
        problems += [f"{url}: {p}" for p in html_problems(_get(client, url, {}))]
    assert not problems, "\n".join(problems[:20])
    # A javascript: reference never gets stored.
    assert not PlanReference.objects.filter(url__istartswith="javascript").exists()
