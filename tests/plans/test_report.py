"""The post-implementation review and the report (page and Markdown)."""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from plans.selectors.report import plan_review
from plans.services import evidence
from plans.services import execution as run
from plans.services.gates import window_override_gate
from plans.services.log import log_entry_add
from plans.services.signoff import signoff_give

from .run_helpers import (
    approve,
    give_go,
    make_plan,
    make_servers,
    make_window,
    milestone,
    record_listings,
)

# "Now" is frozen for each test (at PATCHPLAN_TEST_CLOCK or the real instant):
# data placed relative to it and the code under test see the same instant.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


@pytest.fixture
def overran(plan, servers, engineer, owner, approver):
    """A 2-hour window (20 min expected per server) that ran 2 h 45 min; the
    production server was down 65 minutes, the staging one 15."""
    starts = timezone.now() - timedelta(hours=5)
    window = make_window(
        plan, servers, owner, starts=starts, hours=2, downtime=20, title="DB night"
    )
    give_go(plan, servers, planner=owner, approver=approver)
    run.window_record_times(
        window=window, starts_at=starts, ends_at=starts + timedelta(minutes=165), by=engineer
    )
    run.execution_record_downtime(window=window, server=servers[0], minutes=65, by=engineer)
    run.execution_record_downtime(window=window, server=servers[1], minutes=15, by=engineer)
    return window


def test_the_review_shows_planned_vs_actual_for_a_window_that_overran(plan, servers, overran):
    (w,) = plan_review(plan=plan)["windows"]
    assert (w.planned, w.actual, w.overrun, w.overran) == (120, 165, 45, True)
    prod, staging = w.servers
    assert (prod.expected, prod.actual, prod.overrun, prod.overran) == (20, 65, 45, True)
    assert (staging.expected, staging.actual, staging.overran) == (20, 15, False)
    assert (w.expected_downtime, w.actual_downtime) == (40, 80)


def test_a_window_inside_its_time_is_not_an_overrun(plan, servers, owner, engineer, approver):
    starts = timezone.now() - timedelta(hours=5)
    window = make_window(plan, servers, owner, starts=starts, hours=2)
    give_go(plan, servers, planner=owner, approver=approver)
    run.window_record_times(
        window=window, starts_at=starts, ends_at=starts + timedelta(minutes=90), by=engineer
    )
    (w,) = plan_review(plan=plan)["windows"]
    assert (w.planned, w.actual, w.overran) == (120, 90, False)


def test_the_report_shows_planned_vs_actual_downtime_for_a_window_that_overran(
    client_for, plan, servers, overran, viewer
):
    page = client_for(viewer).get(f"/plans/{plan.pk}/report/").content.decode()
    row = page[page.index('data-testid="review-window"') :]
    row = row[: row.index("</tr>")]
    assert 'data-overran="yes"' in row
    assert "120 min" in row and "165 min" in row and "+45 min overrun" in row
    prod = page[page.index('data-host="db-prod-1"') :]
    prod = prod[: prod.index("</tr>")]
    assert 'data-overran="yes"' in prod and "65 min" in prod and "+45 min" in prod
    staging = page[page.index('data-host="db-staging-1"') :]
    assert 'data-overran="no"' in staging[: staging.index("</tr>")]


def test_failed_rolled_back_servers_and_overrides_are_reported(
    client_for, plan, servers, owner, engineer, approver
):
    window = make_window(plan, servers, owner)
    give_go(plan, servers, planner=owner, approver=approver)
    for status in ("in_progress", "failed", "rolled_back"):
        run.execution_set_status(
            window=window, server=servers[0], status=status, by=engineer, note=f"why {status}"
        )
    review = plan_review(plan=plan)
    assert [(s.server, s.status) for _w, s in review["troubles"]] == [(servers[0], "rolled_back")]
    page = client_for(engineer).get(f"/plans/{plan.pk}/review/").content.decode()
    assert 'data-testid="review-troubles"' in page and "db-prod-1" in page


def test_an_emergency_change_is_shown_on_the_report(client_for, plan, servers, owner, approver):
    approve(plan, planner=owner, approver=approver)
    window = make_window(plan, servers, owner, title="Hotfix")
    window_override_gate(window=window, by=approver, reason="CVE exploited in the wild.")
    page = client_for(owner).get(f"/plans/{plan.pk}/report/").content.decode()
    assert 'data-testid="review-emergency"' in page
    assert "CVE exploited in the wild." in page and "The go from the milestone" in page
    md = client_for(owner).get(f"/plans/{plan.pk}/report.md").content.decode()
    assert "**Emergency change** on Hotfix" in md and "CVE exploited in the wild." in md


def test_the_markdown_export_has_every_section(client_for, plan, servers, overran, engineer, owner):
    evidence.backup_record_create(
        plan=plan,
        server=servers[0],
        what="orders db",
        location="nas",
        command="pg_dump orders > db_backup.sql",
        by=engineer,
    )
    log_entry_add(plan=plan, kind="issue", body="Replica lagged", by=engineer)
    response = client_for(owner).get(f"/plans/{plan.pk}/report.md")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert "attachment;" in response["Content-Disposition"]
    text = response.content.decode()
    for heading in (
        "## 1. Objectives",
        "## 2. Scope",
        "## 3. Timeline",
        "## 4. Evidence",
        "## 5. Execution",
        "## 6. Review",
    ):
        assert heading in text
    assert "`pg_dump orders > db_backup.sql`" in text  # not HTML-escaped
    assert "| **DB night**" in text and "**+45 OVERRUN**" in text
    assert "Replica lagged" in text


def test_lessons_learned_are_saved_by_planners_only(client_for, plan, owner, viewer):
    url = f"/plans/{plan.pk}/review/lessons/"
    assert client_for(viewer).post(url, {"lessons_learned": "x"}).status_code == 403
    response = client_for(owner).post(url, {"lessons_learned": "Test on the replica first."})
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.lessons_learned == "Test on the replica first."


def test_stale_lessons_are_refused(client_for, plan, owner):
    url = f"/plans/{plan.pk}/review/lessons/"
    response = client_for(owner).post(url, {"lessons_learned": "x", "version": plan.version - 1})
    assert response.status_code == 400
    plan.refresh_from_db()
    assert plan.lessons_learned == ""


def test_outsider_gets_404_on_review_and_report(client_for, plan, outsider):
    c = client_for(outsider)
    for tail in ("review/", "report/", "report.md"):
        assert c.get(f"/plans/{plan.pk}/{tail}").status_code == 404
    assert c.post(f"/plans/{plan.pk}/review/lessons/", {"lessons_learned": "x"}).status_code == 404


def test_user_text_is_escaped_on_the_report(client_for, plan, engineer):
    log_entry_add(plan=plan, kind="note", body="<script>alert(1)</script>", by=engineer)
    page = client_for(engineer).get(f"/plans/{plan.pk}/report/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize("size", [1, 8])
def test_the_report_costs_the_same_queries_at_any_size(
    client_for, team, owner, engineer, approver, size, django_assert_max_num_queries
):
    plan = make_plan(team, owner)
    servers = make_servers(team, plan, owner, production=size, staging=size)
    record_listings(servers)
    signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    windows = [
        make_window(plan, servers, owner, starts=timezone.now() - timedelta(days=i + 1))
        for i in range(size)
    ]
    give_go(plan, servers, planner=owner, approver=approver, assessed=True)
    for i, window in enumerate(windows):
        run.execution_set_status(
            window=window, server=servers[0], status="in_progress", by=engineer
        )
        run.execution_record_downtime(window=window, server=servers[1], minutes=5, by=engineer)
        evidence.backup_record_create(
            plan=plan, server=servers[i], what="db", location="nas", by=engineer
        )
        evidence.testrun_create(plan=plan, result="pass", by=engineer, servers=servers[size:])
        evidence.change_approval_create(
            plan=plan,
            change_id=f"CHG{i}",
            approved_by="CAB",
            approved_at=timezone.now(),
            by=engineer,
        )
        entry = log_entry_add(plan=plan, kind="issue", body=f"issue {i}", by=engineer)
        from plans.services.log import log_entry_edit

        log_entry_edit(entry=entry, kind="resolution", body=f"fixed {i}", by=engineer)
    c = client_for(engineer)
    # session, user, memberships, plan; references, scope, milestones (+ sign-off
    # people, sign-offs), readiness (9), status changes, tasks, backups, test runs
    # (+ servers), change approvals, log (+ revisions), review (windows, window servers, executions,
    # overrides, emergency changes, follow-ups); the gates add 4 (go approvals,
    # window times, follow-ups, and the latest listing per server)
    with django_assert_max_num_queries(37):
        assert c.get(f"/plans/{plan.pk}/report/").status_code == 200
    with django_assert_max_num_queries(37):
        assert c.get(f"/plans/{plan.pk}/report.md").status_code == 200
    with django_assert_max_num_queries(14):
        assert c.get(f"/plans/{plan.pk}/review/").status_code == 200


SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'


def test_the_markdown_export_shows_html_in_titles_and_texts_as_text(
    client_for, team, owner, engineer
):
    import markdown as md

    plan = make_plan(
        team,
        owner,
        title=f"Patch {SCRIPT}",
        objective=f"Objective {IMG}\n\n> a quote stays a quote, and 1 < 2 stays as typed",
        rollback_plan=f"Rollback </p>{SCRIPT}",
        lessons_learned=f"<!-- hidden -->{IMG}",
    )
    servers = make_servers(team, plan, owner)
    make_window(plan, servers, owner, title=f"Night {IMG}")
    evidence.backup_record_create(
        plan=plan, server=servers[0], what=f"db | {IMG}", location="nas", command="a`b", by=engineer
    )
    log_entry_add(plan=plan, kind="issue", body=f"Oops\n{SCRIPT}", by=engineer)
    text = client_for(owner).get(f"/plans/{plan.pk}/report.md").content.decode()

    # A viewer that renders raw HTML (python-markdown does) shows it as text.
    html = md.markdown(text, extensions=["tables"])
    assert "<script" not in html and "<img" not in html and "<!--" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3  # title, rollback, log
    assert html.count("&lt;img src=x onerror=") == 4  # objective, lessons, window, backup
    assert text.splitlines()[0] == "# Patch &lt;script>alert(1)&lt;/script>"
    # The texts' own Markdown still works, and a lone "<" is left alone.
    assert "<blockquote>" in html and "1 &lt; 2 stays as typed" in html
    # A "|" in a cell does not split the table; a backtick does not end a code span.
    assert "db \\| &lt;img" in text
    assert "``a`b``" in text


def test_the_markdown_export_links_only_to_the_web_mail_and_the_page(client_for, team, owner):
    import markdown as md

    plan = make_plan(
        team,
        owner,
        objective="[run](javascript:alert(1)) [coded](javascript&colon;alert(2)) "
        "![img](data:text/html,x) [docs](https://example.org/a) [mail](mailto:ops@example.org)",
        lessons_learned="See [ref].\n\n[ref]: javascript:alert(3)",
    )
    text = client_for(owner).get(f"/plans/{plan.pk}/report.md").content.decode()
    html = md.markdown(text)
    # What a viewer would follow or load is only the web and mail links...
    assert re.findall(r'(?:href|src)="([^"]+)"', html) == [
        "https://example.org/a",
        "mailto:ops@example.org",
    ]
    # ...the others read as typed.
    for typed in ("[run](javascript:alert(1))", "![img](data:text/html,x)", "[ref]: javascript"):
        assert typed in html


def test_the_report_and_its_markdown_show_the_change_approval(client_for, plan, engineer, owner):
    at = timezone.now() - timedelta(hours=2)
    evidence.change_approval_create(
        plan=plan,
        change_id="CHG0031337",
        url="https://itsm.example.com/change?id=CHG0031337",
        approved_by="CAB of 1 Dec",
        approved_at=at,
        by=engineer,
    )
    c = client_for(owner)
    page = c.get(f"/plans/{plan.pk}/report/").content.decode()
    table = page[page.index('data-testid="report-approvals"') :]
    table = table[: table.index("</table>")]
    local = timezone.localtime(at)
    assert "<td>CHG0031337</td>" in table and "<td>CAB of 1 Dec</td>" in table
    assert "https://itsm.example.com/change?id=CHG0031337" in table
    assert local.strftime("%-d %b %Y, %H:%M") in table
    md = c.get(f"/plans/{plan.pk}/report.md").content.decode()
    assert "### Change approvals" in md
    assert (
        "| CHG0031337 | <https://itsm.example.com/change?id=CHG0031337> | CAB of 1 Dec | "
        f"{local.strftime('%Y-%m-%d %H:%M')} | {engineer.display_name} |"
    ) in md


def test_the_markdown_export_has_every_heading_of_the_page(
    client_for, plan, servers, overran, engineer, owner, approver
):
    """Every section and sub-section the HTML report shows is in the Markdown file."""
    import re

    from plans.services.tasks import task_create

    # The plan's status changes: reviewed, approved, in progress (the overran window).
    task_create(plan=plan, title="Dump the databases", by=owner)
    evidence.backup_record_create(
        plan=plan, server=servers[0], what="db", location="nas", by=engineer
    )
    page = client_for(owner).get(f"/plans/{plan.pk}/report/").content.decode()
    article = page[page.index('data-testid="report"') :]
    headings = [
        re.sub(r"\s+", " ", h).strip()
        for h in re.findall(r"<h[23][^>]*>([^<]+)<", article)
        if h.strip() != "Report"
    ]
    assert "Status changes" in headings and "Tasks" in headings
    md = client_for(owner).get(f"/plans/{plan.pk}/report.md").content.decode()
    md_headings = {m.strip() for m in re.findall(r"^#{2,3} (.+)$", md, re.MULTILINE)}
    assert [h for h in headings if h not in md_headings] == []


def _report(client, plan) -> tuple[str, str]:
    """The HTML report's execution log table and the whole Markdown export."""
    page = client.get(f"/plans/{plan.pk}/report/").content.decode()
    log = page[page.index('data-testid="report-log"') :]
    log = log[: log.index("</table>")]
    return log, client.get(f"/plans/{plan.pk}/report.md").content.decode()


def test_every_run_mode_change_is_in_the_execution_log_and_on_the_report(
    client_for, plan, servers, owner, engineer, approver
):
    """Not only the servers' status changes: the emergency change, the (early)
    start, a listing uploaded, the downtime recorded, the end and a correction of
    the times are each an execution-log entry (who, when, server, what)."""
    from django.utils.html import escape

    from plans.choices import LogKind
    from plans.models import LogEntry

    from .run_helpers import DPKG_AFTER

    approve(plan, planner=owner, approver=approver)
    prod = servers[0]
    now = timezone.now()
    window = make_window(plan, servers, owner, starts=now + timedelta(hours=1), title="Night")
    window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    run.window_start(window=window, by=engineer, confirm_early=True)
    for status in ("in_progress", "patched"):
        run.execution_set_status(window=window, server=prod, status=status, by=engineer)
    run.execution_import_listing(window=window, server=prod, data=DPKG_AFTER, by=engineer)
    run.execution_set_status(
        window=window, server=prod, status="verified", verification_note="Checked.", by=engineer
    )
    run.execution_record_downtime(window=window, server=prod, minutes=25, by=engineer)
    run.window_finish(window=window, by=engineer)
    run.window_record_times(
        window=window, starts_at=now - timedelta(minutes=10), ends_at=now, by=engineer
    )

    entries = list(
        LogEntry.objects.filter(window=window)
        .order_by("pk")
        .values_list("kind", "author", "server", "body")
    )
    kinds = [(kind, author, server) for kind, author, server, _body in entries]
    assert kinds == [
        (LogKind.RUN, approver.pk, None),  # the emergency change
        (LogKind.RUN, engineer.pk, None),  # started (early)
        (LogKind.STATUS, engineer.pk, prod.pk),
        (LogKind.STATUS, engineer.pk, prod.pk),
        (LogKind.RUN, engineer.pk, prod.pk),  # the listing
        (LogKind.STATUS, engineer.pk, prod.pk),
        (LogKind.RUN, engineer.pk, prod.pk),  # the downtime
        (LogKind.RUN, engineer.pk, None),  # ended
        (LogKind.RUN, engineer.pk, None),  # times corrected
    ]
    bodies = [body for *_x, body in entries]
    assert "Emergency change" in bodies[0] and "Exploited in the wild." in bodies[0]
    assert "started early" in bodies[1]
    assert "package listing uploaded" in bodies[4]
    assert "25 min" in bodies[6]
    assert "ended" in bodies[7]
    assert "corrected" in bodies[8]

    html_log, md = _report(client_for(owner), plan)
    for body in bodies:
        assert escape(body) in html_log
        assert body in md


def test_the_markdown_export_says_what_the_pages_execution_section_says(
    client_for, plan, servers, owner, engineer, approver
):
    """Section 5 beyond its headings: when each window actually ran, who moved a
    server to rolled back and when, and which milestone an emergency change opened."""
    approve(plan, planner=owner, approver=approver)
    prod = servers[0]
    now = timezone.now()
    window = make_window(plan, servers, owner, starts=now - timedelta(hours=2), title="Night")
    window_override_gate(window=window, by=approver, reason="Exploited in the wild.")
    run.window_record_times(
        window=window, starts_at=now - timedelta(minutes=100), ends_at=now, by=engineer
    )
    for status in ("in_progress", "failed", "rolled_back"):
        run.execution_set_status(
            window=window, server=prod, status=status, by=engineer, note=f"why {status}"
        )
    owner_client = client_for(owner)
    page = owner_client.get(f"/plans/{plan.pk}/report/").content.decode()
    md = owner_client.get(f"/plans/{plan.pk}/report.md").content.decode()
    zone = zoneinfo.ZoneInfo(owner.time_zone or plan.team.time_zone)  # the reader's zone
    ran = (now - timedelta(minutes=100)).astimezone(zone).strftime("%H:%M")
    ended = now.astimezone(zone).strftime("%H:%M")
    assert f"ran {ran}–{ended}" in page
    assert f"ran {ran}–{ended}" in md
    troubles = md[md.index("### Failed and rolled-back servers") :]
    troubles = troubles[: troubles.index("###", 5)]
    assert engineer.display_name in troubles
    emergency = md[md.index("**Emergency change**") :].splitlines()[0]
    assert "“deployment” may not start yet" in emergency
