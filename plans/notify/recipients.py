"""Who is concerned by a window, a milestone or a plan (resolved again at
send time), and the windows a calendar feed or a digest shows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from patchplan.accounts.models import User
from patchplan.notifications.models import Kind, Notification, Status
from patchplan.teams.models import Membership, Team
from patchplan.teams.roles import Action, role_allows
from plans.choices import Raci, TaskStatus
from plans.models import MaintenanceWindow, Milestone, Plan, PlanRole, Task

WINDOW_RACI = (Raci.RESPONSIBLE, Raci.ACCOUNTABLE, Raci.INFORMED)


def window_recipient_map(windows: Iterable[MaintenanceWindow]) -> dict[int, set[int]]:
    """User ids concerned by each window: assignees of open or done tasks in
    its milestone, and the plan's responsible, accountable and informed
    people, limited to current members of the plan's team. Three queries
    whatever the number of windows."""
    windows = list(windows)
    if not windows:
        return {}
    by_milestone: dict[int, set[int]] = defaultdict(set)
    milestone_ids = {w.milestone_id for w in windows if w.milestone_id}
    for milestone_id, user_id in (
        Task.objects.filter(milestone_id__in=milestone_ids, assignee__isnull=False)
        .values_list("milestone_id", "assignee_id")
        .order_by()
        .distinct()
    ):
        by_milestone[milestone_id].add(user_id)
    by_plan: dict[int, set[int]] = defaultdict(set)
    plan_ids = {w.plan_id for w in windows}
    for plan_id, user_id in PlanRole.objects.filter(
        plan_id__in=plan_ids, raci__in=WINDOW_RACI
    ).values_list("plan_id", "user_id"):
        by_plan[plan_id].add(user_id)
    team_of_plan = dict(Plan.objects.filter(pk__in=plan_ids).values_list("pk", "team_id"))
    members: dict[int, set[int]] = defaultdict(set)
    for team_id, user_id in Membership.objects.filter(
        team_id__in=set(team_of_plan.values())
    ).values_list("team_id", "user_id"):
        members[team_id].add(user_id)
    result = {}
    for w in windows:
        people = by_plan[w.plan_id] | by_milestone.get(w.milestone_id, set())
        result[w.pk] = people & members[team_of_plan[w.plan_id]]
    return result


def window_recipients(window: MaintenanceWindow) -> set[int]:
    return window_recipient_map([window]).get(window.pk, set())


def is_window_recipient(*, window: MaintenanceWindow, user_id: int) -> bool:
    """Whether one person is still concerned by the window (membership of the
    team is checked separately); one query in the common case."""
    if (
        window.milestone_id
        and Task.objects.filter(milestone_id=window.milestone_id, assignee_id=user_id).exists()
    ):
        return True
    return PlanRole.objects.filter(
        plan_id=window.plan_id, user_id=user_id, raci__in=WINDOW_RACI
    ).exists()


def milestone_approver_map(milestones: Iterable[Milestone]) -> dict[int, set[int]]:
    """People who may sign each milestone off: named ones, and team members
    holding one of its sign-off roles, if still in the team. Two queries
    whatever the number of milestones (the plans must be loaded)."""
    milestones = list(milestones)
    if not milestones:
        return {}
    named: dict[int, set[int]] = defaultdict(set)
    through = Milestone.signoff_users.through
    for milestone_id, user_id in through.objects.filter(
        milestone_id__in=[m.pk for m in milestones]
    ).values_list("milestone_id", "user_id"):
        named[milestone_id].add(user_id)
    roles_of: dict[int, dict[int, str]] = defaultdict(dict)
    for team_id, user_id, role in Membership.objects.filter(
        team_id__in={m.plan.team_id for m in milestones}
    ).values_list("team_id", "user_id", "role"):
        roles_of[team_id][user_id] = role
    result = {}
    for m in milestones:
        members = roles_of[m.plan.team_id]
        wanted = set(m.signoff_roles or [])
        if wanted:
            by_role = {user_id for user_id, role in members.items() if role in wanted}
        elif named[m.pk]:
            by_role = set()
        else:
            # Neither roles nor people named: whoever may sign off, as
            # plans.services.signoff.signoff_eligible has it.
            by_role = {
                user_id for user_id, role in members.items() if role_allows(role, Action.SIGN_OFF)
            }
        result[m.pk] = (named[m.pk] | by_role) & set(members)
    return result


def milestone_approvers(milestone: Milestone) -> set[int]:
    return milestone_approver_map([milestone]).get(milestone.pk, set())


def plan_stakeholders(plan: Plan) -> set[int]:
    """The owner and everyone with a RACI role in the plan, if still in the team."""
    people = {plan.owner_id} | set(plan.roles.values_list("user_id", flat=True))
    return people & set(
        Membership.objects.filter(team_id=plan.team_id).values_list("user_id", flat=True)
    )


def milestone_people(milestone: Milestone) -> set[int]:
    """The plan's people for a milestone: owner, RACI, and assignees of the
    milestone's tasks, if still in the team (three queries)."""
    assignees = set(
        Task.objects.filter(milestone_id=milestone.pk, assignee__isnull=False).values_list(
            "assignee_id", flat=True
        )
    )
    plan = milestone.plan
    people = {plan.owner_id} | set(plan.roles.values_list("user_id", flat=True)) | assignees
    return people & set(
        Membership.objects.filter(team_id=plan.team_id).values_list("user_id", flat=True)
    )


def plan_approvers(plan: Plan) -> set[int]:
    """Who approves a plan sent for review: the approvers of its milestones,
    or, when it has none, every member whose role may sign off."""
    milestones = list(Milestone.objects.filter(plan_id=plan.pk))
    for m in milestones:
        m.plan = plan
    people: set[int] = set().union(*milestone_approver_map(milestones).values())
    if people:
        return people
    return {
        user_id
        for user_id, role in Membership.objects.filter(team_id=plan.team_id).values_list(
            "user_id", "role"
        )
        if role_allows(role, Action.SIGN_OFF)
    }


def told_about_window(window_id: int) -> set[int]:
    """Who has had an email or in-app notice about this window (and so has it
    in their calendar): they get its updates and cancellation."""
    return set(
        Notification.objects.filter(
            object_type="window",
            object_id=window_id,
            kind__in=[Kind.WINDOW_REMINDER, Kind.WINDOW_UPDATED],
            status__in=[Status.SENT, Status.SENDING, Status.SKIPPED],
        ).values_list("recipient_id", flat=True)
    )


def feed_windows_for_user(
    *, user: User, since: datetime | None = None
) -> QuerySet[MaintenanceWindow]:
    """Every window the person is in (task in its milestone, a RACI role or
    ownership of its plan), in the teams they are still a member of."""
    since = since or timezone.now() - timedelta(days=90)
    team_ids = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    milestone_ids = Task.objects.filter(assignee=user, milestone__isnull=False).values(
        "milestone_id"
    )
    plan_ids = PlanRole.objects.filter(user=user).values("plan_id")
    return (
        MaintenanceWindow.objects.filter(
            plan__team_id__in=team_ids, plan__is_template=False, ends_at__gte=since
        )
        .filter(Q(milestone_id__in=milestone_ids) | Q(plan_id__in=plan_ids) | Q(plan__owner=user))
        .select_related("plan__owner")
        .order_by("starts_at")
    )


def feed_windows_for_team(
    *, team: Team, since: datetime | None = None
) -> QuerySet[MaintenanceWindow]:
    since = since or timezone.now() - timedelta(days=90)
    return (
        MaintenanceWindow.objects.filter(
            plan__team=team, plan__is_template=False, ends_at__gte=since
        )
        .select_related("plan__owner")
        .order_by("starts_at")
    )


def digest_tasks_for_user(*, user: User, until) -> QuerySet[Task]:
    team_ids = list(Membership.objects.filter(user=user).values_list("team_id", flat=True))
    return (
        Task.objects.filter(assignee=user, plan__team_id__in=team_ids, due_on__lte=until)
        .exclude(status=TaskStatus.DONE)
        .select_related("plan")
        .order_by("due_on", "pk")
    )
