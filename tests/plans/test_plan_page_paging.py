"""The plan page shows the first 50 tasks and servers in scope; the rest come in pages
of 50 as the user scrolls, and the tasks can be filtered by milestone, assignee and
status, all with a fixed number of queries."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse

from plans.choices import TaskStatus
from plans.models import Milestone, Task
from plans.selectors.tasks import TASK_SHOWN_MAX, TaskFilters
from tests.pages import page_html
from tests.plans.test_plan_queries import LARGE, build_plan

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="task-(\d+)" data-task-row', html)]


@pytest.fixture
def big(team, planner, engineer, approver):
    return build_plan(team, planner, [planner, engineer, approver], **LARGE)


def test_task_pages_follow_one_another_until_every_task_is_shown(
    client_for, big, planner, django_assert_max_num_queries
):
    client = client_for(planner)
    first = page_html(client, reverse("plan_detail", args=[big.pk]))
    seen = rows(first)
    assert len(seen) == 50
    more = re.search(r'data-testid="tasks-more".*?hx-get="([^"]+)"', first).group(1)
    while more:
        # session, user, memberships, plan, milestones, members, count, page.
        with django_assert_max_num_queries(8):
            response = client.get(more.replace("&amp;", "&"))
        assert response.status_code == 200
        html = response.content.decode()
        seen += rows(html)
        found = re.search(r'data-testid="tasks-more".*?hx-get="([^"]+)"', html)
        more = found.group(1) if found else ""
    expected = list(
        Task.objects.filter(plan=big)
        .order_by("milestone__position", "due_on", "position", "pk")
        .values_list("pk", flat=True)
    )
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen)) == LARGE["tasks"]


def test_tasks_filter_by_milestone_assignee_and_status(client_for, big, planner, engineer):
    milestone = Milestone.objects.filter(plan=big).order_by("position").last()
    Task.objects.filter(plan=big, milestone=milestone).update(
        assignee=engineer, status=TaskStatus.BLOCKED
    )
    wanted = set(Task.objects.filter(plan=big, milestone=milestone).values_list("pk", flat=True))
    assert 0 < len(wanted) < 50
    url = reverse("plan_task_rows", args=[big.pk])
    html = (
        client_for(planner)
        .get(url, {"milestone": milestone.pk, "assignee": engineer.pk, "status": "blocked"})
        .content.decode()
    )
    assert set(rows(html)) == wanted
    assert f"{len(wanted)} tasks match the filters" in html
    assert 'data-testid="tasks-more"' not in html
    # The plan page itself takes the same filters (no JavaScript: the form's GET).
    page = page_html(
        client_for(planner),
        reverse("plan_detail", args=[big.pk]),
        status="blocked",
        milestone=milestone.pk,
    )
    assert set(rows(page)) == wanted
    # Unassigned tasks only.
    Task.objects.filter(pk__in=list(wanted)[:2]).update(assignee=None)
    html = client_for(planner).get(url, {"assignee": "none"}).content.decode()
    assert set(rows(html)) == set(
        Task.objects.filter(plan=big, assignee=None).values_list("pk", flat=True)
    )


def test_the_counts_come_with_the_rows(client_for, big, planner, django_assert_max_num_queries):
    url = reverse("plan_task_rows", args=[big.pk])
    client = client_for(planner)
    client.get(url)
    # session, user, memberships, plan, members, milestones, the page with its count.
    with django_assert_max_num_queries(7):
        html = client.get(url).content.decode()
    assert "300 tasks" in html and "Show more (250 left)" in html
    Task.objects.filter(plan=big).update(status=TaskStatus.DONE)
    assert "No task matches the filters." in client.get(url, {"status": "blocked"}).content.decode()
    # Past the end: no rows, no "more".
    html = client.get(url, {"offset": "400"}).content.decode()
    assert rows(html) == [] and "tasks-more" not in html


def test_unknown_filter_values_are_ignored(client_for, big, planner):
    url = reverse("plan_task_rows", args=[big.pk])
    response = client_for(planner).get(url, {"milestone": "x'", "status": "nope", "offset": "-3"})
    assert response.status_code == 200
    assert len(rows(response.content.decode())) == 50


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", 0),
        ("0", 0),
        ("130", 130),
        (str(TASK_SHOWN_MAX), TASK_SHOWN_MAX),
        # Capped: a request can't ask for the whole table.
        (str(TASK_SHOWN_MAX + 1), TASK_SHOWN_MAX),
        ("999999", TASK_SHOWN_MAX),
        # Not a count: ignored.
        ("1234567", 0),
        ("-5", 0),
        ("+5", 0),
        ("1e3", 0),
        ("12.5", 0),
        (" 7", 0),
        ("x'", 0),
    ],
)
def test_shown_is_a_bounded_count(value, shown):
    filters = TaskFilters.from_query(QueryDict(urlencode({"shown": value})))
    assert filters.shown == shown
    # It is not a filter, and the next page's query does not carry it.
    assert not filters.active
    assert "shown" not in filters.as_query(offset=50)


def test_shown_comes_with_the_filters():
    filters = TaskFilters.from_query(QueryDict("status=todo&shown=80&offset=3"))
    assert (filters.status, filters.shown, filters.offset) == ("todo", 80, 3)
    assert TaskFilters.from_query(QueryDict("")).shown == 0


def test_the_cards_refresh_shows_as_many_rows_as_the_reader_had_loaded(
    client_for, big, planner, django_assert_max_num_queries
):
    client = client_for(planner)
    url = reverse("plan_live_part", args=[big.pk, "tasks"])
    client.get(url)
    # session, user, memberships, plan, milestones, members, the rows with their count:
    # as many queries for 130 rows as for 50.
    with django_assert_max_num_queries(7):
        html = client.get(url, {"shown": "130"}).content.decode()
    assert len(rows(html)) == 130
    # The next refresh asks for as many again; "show more" goes on from there.
    assert 'name="shown" value="130"' in html
    more = re.search(r'data-testid="tasks-more".*?hx-get="([^"]+)"', html).group(1)
    assert "offset=130" in more and "shown" not in more
    assert "Show more (170 left)" in html
    # Fewer than a page: still the first page.
    assert len(rows(client.get(url, {"shown": "7"}).content.decode())) == 50
    # More than there are: all of them (the cap is above this plan's 300).
    html = client.get(url, {"shown": "400"}).content.decode()
    assert len(rows(html)) == 300 and "tasks-more" not in html


def test_the_cards_refresh_keeps_the_chosen_filter_and_count(client_for, big, planner):
    todo = list(Task.objects.filter(plan=big, status=TaskStatus.TODO).values_list("pk", flat=True))
    Task.objects.filter(plan=big).exclude(pk__in=todo[:10]).update(status=TaskStatus.TODO)
    Task.objects.filter(pk__in=todo[:10]).update(status=TaskStatus.DONE)
    url = reverse("plan_live_part", args=[big.pk, "tasks"])
    html = client_for(planner).get(url, {"status": "todo", "shown": "120"}).content.decode()
    assert len(rows(html)) == 120
    assert set(re.findall(r'data-task-row [^>]*data-status="(\w+)"', html)) == {"todo"}
    form = html[html.index('data-testid="task-filters"') : html.index("</form>")]
    assert re.search(r'<option value="todo" selected>', form)
    assert "290 tasks match the filters" in html


def test_a_filter_change_starts_a_new_list_at_its_first_page(client_for, big, planner):
    # The filter form carries the count too (for the refresh); a new list is one page.
    url = reverse("plan_task_rows", args=[big.pk])
    html = client_for(planner).get(url, {"shown": "130"}).content.decode()
    assert len(rows(html)) == 50


def test_scope_pages_follow_one_another(client_for, big, planner, django_assert_max_num_queries):
    client = client_for(planner)
    first = page_html(client, reverse("plan_detail", args=[big.pk]))
    scope = first[first.index('data-testid="scope-table"') :]
    scope = scope[: scope.index("</table>")]
    hosts = re.findall(r'">(p\d+-host-\d+)</a>', scope)
    assert len(hosts) == 50
    # A hostname stays on one line ("web-prd-" / "01" read as two names).
    assert (
        len(re.findall(r'<td class="text-nowrap"><a href="[^"]+">p\d+-host-\d+</a>', scope)) == 50
    )
    offset = 50
    while offset:
        # session, user, memberships, plan, servers, tags, pending updates.
        with django_assert_max_num_queries(7):
            html = client.get(
                reverse("plan_scope_rows", args=[big.pk]), {"offset": offset}
            ).content.decode()
        hosts += re.findall(r'">(p\d+-host-\d+)</a>', html)
        found = re.search(r"\?offset=(\d+)", html)
        offset = int(found.group(1)) if found else 0
    assert len(hosts) == len(set(hosts)) == LARGE["servers"]


@pytest.mark.parametrize("name", ["plan_task_rows", "plan_scope_rows"])
def test_outsider_gets_404(client_for, big, outsider, name):
    assert client_for(outsider).get(reverse(name, args=[big.pk])).status_code == 404
