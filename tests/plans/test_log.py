"""The execution log: entries linked to servers and windows; edits keep history."""

import pytest
from django.core.exceptions import ValidationError

from plans.models import LogEntry, LogEntryRevision
from plans.services.log import log_entry_add, log_entry_edit
from tests import factories

from .run_helpers import make_plan, make_servers, make_window

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(team, owner):
    return make_plan(team, owner)


@pytest.fixture
def servers(team, plan, owner):
    return make_servers(team, plan, owner)


def test_an_entry_links_to_a_server_and_window(plan, servers, owner, engineer):
    window = make_window(plan, servers, owner)
    entry = log_entry_add(
        plan=plan,
        kind="issue",
        body="Replication lag after restart",
        by=engineer,
        window=window,
        server=servers[0],
    )
    assert (entry.window, entry.server, entry.author) == (window, servers[0], engineer)


def test_an_entry_for_a_server_outside_the_scope_is_refused(team, plan, engineer):
    with pytest.raises(ValidationError) as exc:
        log_entry_add(
            plan=plan,
            kind="issue",
            body="x",
            by=engineer,
            server=factories.ServerFactory(team=team),
        )
    assert "server" in exc.value.error_dict
    assert not LogEntry.objects.exists()


def test_an_empty_entry_is_refused(plan, engineer):
    with pytest.raises(ValidationError):
        log_entry_add(plan=plan, kind="note", body="   ", by=engineer)


def test_an_edit_keeps_the_earlier_text(plan, engineer, planner):
    entry = log_entry_add(plan=plan, kind="issue", body="Disk full", by=engineer)
    log_entry_edit(entry=entry, kind="resolution", body="Disk full; cleaned /var/log", by=planner)
    entry.refresh_from_db()
    assert entry.body == "Disk full; cleaned /var/log" and entry.edited_at is not None
    (rev,) = LogEntryRevision.objects.all()
    assert (rev.body, rev.kind, rev.edited_by) == ("Disk full", "issue", planner)


def test_an_edit_that_changes_nothing_writes_nothing(plan, engineer):
    entry = log_entry_add(plan=plan, kind="issue", body="Disk full", by=engineer)
    log_entry_edit(entry=entry, kind="issue", body="Disk full ", by=engineer)
    assert not LogEntryRevision.objects.exists()


def test_outsider_gets_404_on_the_log(client_for, plan, engineer, outsider):
    entry = log_entry_add(plan=plan, kind="issue", body="Disk full", by=engineer)
    c = client_for(outsider)
    assert c.get(f"/plans/{plan.pk}/log/").status_code == 404
    assert c.get(f"/plans/{plan.pk}/log/{entry.pk}/").status_code == 404
    assert (
        c.post(f"/plans/{plan.pk}/log/{entry.pk}/", {"kind": "note", "body": "x"}).status_code
        == 404
    )


def test_an_entry_of_another_plan_is_404(client_for, team, owner, plan, engineer):
    other = make_plan(team, owner, title="Other")
    entry = log_entry_add(plan=plan, kind="issue", body="Disk full", by=engineer)
    assert client_for(engineer).get(f"/plans/{other.pk}/log/{entry.pk}/").status_code == 404


def test_viewer_reads_the_log_but_may_not_write(client_for, plan, engineer, viewer):
    entry = log_entry_add(plan=plan, kind="issue", body="Disk full", by=engineer)
    c = client_for(viewer)
    assert c.get(f"/plans/{plan.pk}/log/").status_code == 200
    assert c.get(f"/plans/{plan.pk}/log/{entry.pk}/").status_code == 200
    assert c.post(f"/plans/{plan.pk}/log/new/", {"kind": "note", "body": "x"}).status_code == 403
    assert (
        c.post(f"/plans/{plan.pk}/log/{entry.pk}/", {"kind": "note", "body": "x"}).status_code
        == 403
    )
    assert LogEntry.objects.get().body == "Disk full"


def test_the_log_page_shows_edited_with_the_history(client_for, plan, engineer):
    c = client_for(engineer)
    c.post(f"/plans/{plan.pk}/log/new/", {"kind": "issue", "body": "Disk full"})
    entry = LogEntry.objects.get()
    response = c.post(
        f"/plans/{plan.pk}/log/{entry.pk}/", {"kind": "resolution", "body": "Cleaned"}
    )
    assert response.status_code == 302
    page = c.get(f"/plans/{plan.pk}/log/").content.decode()
    assert 'data-testid="edited"' in page and "Disk full" in page and "Cleaned" in page


@pytest.mark.parametrize("size", [1, 15])
def test_the_log_page_costs_the_same_queries_at_any_size(
    client_for, plan, servers, engineer, size, django_assert_max_num_queries
):
    for i in range(size):
        window = make_window(plan, servers, engineer)
        e = log_entry_add(
            plan=plan, kind="issue", body=f"e{i}", by=engineer, server=servers[0], window=window
        )
        log_entry_edit(entry=e, kind="action", body=f"e{i}!", by=engineer)
    c = client_for(engineer)
    # session, user, memberships, plan, entries, revisions, form choices (windows, servers)
    with django_assert_max_num_queries(10):
        assert c.get(f"/plans/{plan.pk}/log/").status_code == 200
