import pytest
from django.core.management import call_command

from patchplan.accounts.models import User
from patchplan.dashboard.management.commands.seed_demo import DEMO_PASSWORD
from patchplan.teams.models import Membership, Team
from plans.models import MaintenanceWindow, Plan, Task
from servers.models import Server
from tests import factories


@pytest.mark.django_db
def test_seed_demo_loads_the_demo_team_once(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    team = Team.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(team=team).values_list("user__username", "role"))
    assert roles == {
        "admin": "admin",
        "planner": "planner",
        "engineer": "engineer",
        "approver": "approver",
        "viewer": "viewer",
    }
    assert Server.objects.filter(team=team).count() == 30
    assert {"production", "staging"} == set(
        Server.objects.filter(team=team).values_list("environment", flat=True)
    )
    # The two plans to work on, plus finished ones that give the reports history.
    open_plans = Plan.objects.filter(
        team=team, status__in=["draft", "in_review", "approved", "in_progress"]
    )
    assert open_plans.count() == 2
    assert Plan.objects.filter(team=team, status="completed").exists()
    assert MaintenanceWindow.objects.filter(plan__team=team).exists()
    assert Task.objects.filter(plan__team=team).exists()
    assert User.objects.get(username="planner").check_password(DEMO_PASSWORD)
    assert "already loaded" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    ["/", "/plans/", "/servers/", "/calendar/", "/team/", "/team/members/", "/accounts/profile/"],
)
def test_main_pages_answer_for_every_role(
    client, team, admin, planner, engineer, approver, viewer, path
):
    for user in (admin, planner, engineer, approver, viewer):
        client.force_login(user)
        assert client.get(path).status_code == 200, (user.username, path)


@pytest.mark.django_db
def test_pages_send_anonymous_users_to_log_in(client):
    response = client.get("/plans/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_unknown_page_is_the_friendly_404(client_for, engineer):
    response = client_for(engineer).get("/no/such/page/")
    assert response.status_code == 404
    assert b"Nothing here" in response.content


def _dashboard_data(team, user, n):
    plan = factories.PlanFactory(team=team, owner=user)
    for i in range(n):
        factories.TaskFactory(plan=plan, assignee=user, title=f"t{i}")
        factories.WindowFactory(plan=plan)


@pytest.mark.django_db
def test_dashboard_queries_do_not_grow_with_data(
    client_for, planner, team, django_assert_max_num_queries
):
    client = client_for(planner)
    _dashboard_data(team, planner, 2)
    # session, user, memberships+teams, tasks, windows, plans (+ savepoints).
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
    _dashboard_data(team, planner, 30)
    with django_assert_max_num_queries(8):
        assert client.get("/").status_code == 200
