"""Reads of plans, always scoped through the access selectors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import chain

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patchplan.teams.models import Team
from patchplan.teams.roles import Action
from patchplan.teams.selectors import check_team_action, get_for_user, role_in_team, user_can
from plans import workflow
from plans.choices import PlanKind, PlanStatus, Risk
from plans.models import (
    Comment,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanReference,
    PlanStatusChange,
)
from servers.choices import Environment
from servers.models import PendingUpdate, Server

PAGE_SIZE = 50
# The button for moving a plan to each status.
MOVE_LABELS = {
    PlanStatus.DRAFT: _("Back to draft"),
    PlanStatus.IN_REVIEW: _("Send for review"),
    PlanStatus.APPROVED: _("Approve plan"),
    PlanStatus.IN_PROGRESS: _("Start work"),
    PlanStatus.CANCELLED: _("Cancel plan"),
    PlanStatus.ROLLED_BACK: _("Mark rolled back"),
}
_RISK_RANK = {Risk.CRITICAL: 0, Risk.HIGH: 1, Risk.MEDIUM: 2, Risk.LOW: 3}
_STATUS_RANK = {s: i for i, s in enumerate(PlanStatus.values)}

# ?sort= values the list accepts and the ordering each means ("" is the default:
# security plans with critical risk first, then by risk, newest first).
SORTS: dict[str, tuple[str, ...]] = {
    "": ("priority", "risk_rank", "-created_at"),
    "title": ("title",),
    "-title": ("-title",),
    "risk": ("-risk_rank", "-created_at"),
    "-risk": ("risk_rank", "-created_at"),
    "status": ("status_rank", "-created_at"),
    "-status": ("-status_rank", "-created_at"),
    "created": ("created_at",),
    "-created": ("-created_at",),
    "updated": ("updated_at",),
    "-updated": ("-updated_at",),
    "owner": ("owner__first_name", "owner__last_name", "owner__username"),
}


def plans_for_team(*, user, team: Team) -> QuerySet[Plan]:
    check_team_action(user=user, team_id=team.pk, action=Action.VIEW)
    return Plan.objects.filter(team=team)


def plans_open_for_scope(*, user, team: Team) -> QuerySet[Plan]:
    """The team's plans still taking servers (not templates, not ended), for an
    "add these servers to a plan" choice; empty for a role that may not edit plans."""
    if not user_can(user=user, team_id=team.pk, action=Action.EDIT_PLAN):
        return Plan.objects.none()
    return (
        plans_for_team(user=user, team=team)
        .filter(is_template=False)
        .exclude(status__in=workflow.FINAL)
        .only("pk", "title", "status")
        .order_by("title")
    )


def plan_get_for_user(*, user, plan_id: int, action: str = Action.VIEW) -> Plan:
    """One plan of the user's teams: 404 outside them, 403 if the role may not act."""
    # The scope's size as a subquery: Count("servers") grouped the plan's row (its texts
    # included) with its owner's and team's, 5.3 -> 3.3 ms a plan page on PostgreSQL.
    in_scope = (
        Plan.servers.through.objects.filter(plan_id=OuterRef("pk"))
        .order_by()
        .values("plan_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    return get_for_user(
        # The source plan's title only (the page links to it), not its texts.
        Plan.objects.select_related("owner", "team").annotate(
            server_count=Coalesce(Subquery(in_scope, output_field=IntegerField()), 0),
            created_from_title=F("created_from__title"),
        ),
        user=user,
        action=action,
        pk=plan_id,
    )


def plan_access_for_user(*, user, plan_id: int, action: str = Action.VIEW) -> Plan:
    """plan_get_for_user's access check alone, in one indexed query (the plan's id and
    team): for the open page's poll, which runs every 1.5 s and shows no plan field."""
    return get_for_user(Plan.objects.only("id", "team_id"), user=user, action=action, pk=plan_id)


def milestone_get_for_user(*, user, milestone_id: int, action: str) -> Milestone:
    return get_for_user(
        Milestone.objects.select_related("plan__team"),
        user=user,
        action=action,
        team_field="plan__team",
        pk=milestone_id,
    )


@dataclass
class PlanFilters:
    """The list's GET parameters, cleaned: unknown values are ignored, never an error."""

    q: str = ""
    status: str = ""
    kind: str = ""
    risk: str = ""
    owner: int | None = None
    this_week: bool = False
    sort: str = ""
    templates: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_query(cls, params, *, templates: bool = False) -> PlanFilters:
        owner = params.get("owner", "")
        sort = params.get("sort", "")

        def pick(name, choices):
            value = params.get(name, "")
            return value if value in choices.values else ""

        return cls(
            # PostgreSQL refuses NUL in a string: drop it rather than answer 500.
            q=params.get("q", "").replace("\x00", "").strip()[:100],
            status=pick("status", PlanStatus),
            kind=pick("kind", PlanKind),
            risk=pick("risk", Risk),
            owner=int(owner) if owner.isdecimal() and len(owner) < 10 else None,
            this_week=params.get("week") == "1",
            sort=sort if sort in SORTS else "",
            templates=templates,
        )

    def as_query(self) -> str:
        """The filters as a query string (for pagination and sort links)."""
        from urllib.parse import urlencode

        pairs = [
            (k, v)
            for k, v in (
                ("q", self.q),
                ("status", self.status),
                ("kind", self.kind),
                ("risk", self.risk),
                ("owner", self.owner or ""),
                ("week", "1" if self.this_week else ""),
                ("sort", self.sort),
            )
            if v
        ]
        return urlencode(pairs)


def week_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Monday 00:00 to next Monday 00:00 of the current week, in the active time zone."""
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=local.weekday()
    )
    return start, start + timedelta(days=7)


def plans_filtered(*, user, team: Team, filters: PlanFilters) -> QuerySet[Plan]:
    """The plan list: filters, search and a whitelisted sort (owner joined, server
    count annotated)."""
    qs = plans_for_team(user=user, team=team).filter(is_template=filters.templates)
    if filters.q:
        # EXISTS rather than a join: no DISTINCT over the whole list.
        qs = qs.filter(
            Q(title__icontains=filters.q)
            | Q(objective__icontains=filters.q)
            | Exists(
                PlanReference.objects.filter(plan=OuterRef("pk"), identifier__iexact=filters.q)
            )
        )
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.risk:
        qs = qs.filter(risk=filters.risk)
    if filters.owner:
        qs = qs.filter(owner_id=filters.owner)
    if filters.this_week:
        start, end = week_bounds()
        qs = qs.filter(
            Exists(
                MaintenanceWindow.objects.filter(
                    plan=OuterRef("pk"),
                    cancelled_at=None,
                    starts_at__lt=end,
                    ends_at__gt=start,
                )
            )
        )
    qs = qs.annotate(
        priority=Case(
            When(kind=PlanKind.SECURITY_PATCH, risk=Risk.CRITICAL, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        risk_rank=Case(
            *[When(risk=r, then=Value(n)) for r, n in _RISK_RANK.items()],
            output_field=IntegerField(),
        ),
        status_rank=Case(
            *[When(status=s, then=Value(n)) for s, n in _STATUS_RANK.items()],
            output_field=IntegerField(),
        ),
    )
    return qs.select_related("owner").order_by(*SORTS[filters.sort], "-pk")


def server_counts(plans: list[Plan]) -> None:
    """Set `server_count` on a page of plans: one grouped query over those ids only
    (a count over the whole filtered list would be sorted and thrown away)."""
    through = Plan.servers.through
    counts = dict(
        through.objects.filter(plan_id__in=[p.pk for p in plans])
        .values("plan_id")
        .annotate(n=Count("pk"))
        .values_list("plan_id", "n")
    )
    for p in plans:
        p.server_count = counts.get(p.pk, 0)


def team_owners(*, team: Team) -> list:
    """People who may own plans, as (pk, display_name) pairs (the list's owner filter):
    one query, no User objects built."""
    from plans.selectors.tasks import members_by_team

    return members_by_team([team.pk])[team.pk]


@dataclass
class Activity:
    at: datetime
    kind: str  # "status" or "comment"
    item: object


ACTIVITY_LIMIT = 50


def plan_activity(*, plan: Plan, limit: int | None = ACTIVITY_LIMIT) -> tuple[list[Activity], bool]:
    """Status changes and comments, newest first, the latest `limit` of them (all
    with None), and whether there are more: 3 queries whatever the count."""
    changes = PlanStatusChange.objects.filter(plan_id=plan.pk).select_related("by")
    comments = (
        Comment.objects.filter(plan_id=plan.pk)
        .select_related("author")
        # A list attribute, not the manager: a related manager per comment costs more
        # than the rest of the comment's line.
        .prefetch_related(Prefetch("mentions", to_attr="mentioned"))
    )
    if limit is not None:
        changes = changes.order_by("-at", "-pk")[: limit + 1]
        comments = comments.order_by("-created_at", "-pk")[: limit + 1]
    labels = dict(PlanStatus.choices)
    changes = list(changes)
    for c in changes:
        c.from_label, c.to_label = labels.get(c.from_status), labels.get(c.to_status)
    items = sorted(
        chain(
            (Activity(c.at, "status", c) for c in changes),
            (Activity(c.created_at, "comment", c) for c in comments),
        ),
        key=lambda a: a.at,
        reverse=True,
    )
    if limit is not None and len(items) > limit:
        return items[:limit], True
    return items, False


def plan_scope(*, plan: Plan) -> list[Server]:
    """Servers in scope with their tags and the pending updates for the plan's
    packages (`server.plan_updates`): 3 queries whatever the sizes."""
    servers = list(plan.servers.order_by("environment", "hostname").prefetch_related("tags"))
    by_server: dict[int, list] = {s.pk: [] for s in servers}
    if plan.packages and servers:
        for update in PendingUpdate.objects.filter(
            server__plans=plan, name__in=plan.packages
        ).order_by("name", "architecture"):
            by_server.setdefault(update.server_id, []).append(update)
    # The link computed once, not per row: reverse() costs a fraction of a
    # millisecond, times 200 rows (Server.environment_label is a dict lookup).
    link = reverse("server_detail", args=[0]).replace("/0/", "/{}/")
    for s in servers:
        s.plan_updates = by_server.get(s.pk, [])
        s.url = link.format(s.pk)
    return servers


SCOPE_PAGE_SIZE = 50


@dataclass(slots=True)
class ScopeRow:
    """One row of the plan page's scope table, plain values only."""

    url: str
    hostname: str
    environment: str
    environment_label: str
    tags: list[str]
    updates: list[tuple[str, str, str, bool]]  # name, current, candidate, is_security


def plan_scope_rows(*, plan: Plan, offset: int = 0) -> dict:
    """One page (SCOPE_PAGE_SIZE) of the plan page's scope table from `offset`: servers
    with their tag names and the pending updates for the plan's packages, as plain rows
    (3 queries whatever the sizes); `more_offset` is where the next page starts (0: none).
    plan_scope() keeps the objects for the scope editing page."""
    page = list(
        plan.servers.order_by("environment", "hostname", "pk").values_list(
            "pk", "hostname", "environment"
        )[offset : offset + SCOPE_PAGE_SIZE + 1]
    )
    more = len(page) > SCOPE_PAGE_SIZE
    servers = page[:SCOPE_PAGE_SIZE]
    ids = [pk for pk, _h, _e in servers]
    tags: dict[int, list[str]] = {pk: [] for pk in ids}
    updates: dict[int, list[tuple[str, str, str, bool]]] = {pk: [] for pk in ids}
    if servers:
        for server_id, name in (
            Server.tags.through.objects.filter(server_id__in=ids)
            .order_by("tag__name", "tag_id")
            .values_list("server_id", "tag__name")
        ):
            tags[server_id].append(name)
    if plan.packages and servers:
        for server_id, *update in (
            PendingUpdate.objects.filter(server_id__in=ids, name__in=plan.packages)
            .order_by("name", "architecture")
            .values_list("server_id", "name", "current", "candidate", "is_security")
        ):
            updates[server_id].append(tuple(update))
    link = reverse("server_detail", args=[0]).replace("/0/", "/{}/")
    labels = {value: str(label) for value, label in Environment.choices}
    return {
        "plan": plan,
        "scope": [
            ScopeRow(link.format(pk), hostname, env, labels.get(env, env), tags[pk], updates[pk])
            for pk, hostname, env in servers
        ],
        "scope_more_offset": offset + SCOPE_PAGE_SIZE if more else 0,
    }


def plan_milestones(*, plan: Plan) -> list[Milestone]:
    """Milestones in order with the names of the people named for their sign-offs
    (`signoff_people`, by username): 2 queries."""
    milestones = list(plan.milestones.order_by("position", "pk"))
    people: dict[int, list[str]] = {m.pk: [] for m in milestones}
    if milestones:
        # Names as values, not a prefetch of User objects: the prefetch machinery and the
        # model instances cost more than the milestones card itself.
        for milestone_id, first, last, username in (
            Milestone.signoff_users.through.objects.filter(milestone__plan_id=plan.pk)
            .order_by("user__username", "user_id")
            .values_list("milestone_id", "user__first_name", "user__last_name", "user__username")
        ):
            # User.display_name: the full name, else the username.
            people[milestone_id].append(f"{first} {last}".strip() or username)
    for m in milestones:
        m.signoff_people = people[m.pk]
    return milestones


@dataclass(slots=True)
class MilestoneRow:
    """One milestone as the plan page's list shows it
    (templates/jinja2/plans/milestone_items.jinja), plain values."""

    pk: int
    number: int
    name: str
    signed_off: bool
    starts_on: date | None
    due_on: date | None
    signoff_count: int
    signoff_roles: list[str]
    signoff_people: list[str]
    first: bool
    last: bool
    url_move: str
    url_edit: str
    url_delete: str


def milestone_rows(milestones: list[Milestone]) -> list[MilestoneRow]:
    """Rows of plan_milestones() (with its sign-off people's names): no query."""
    urls = [
        reverse(name, args=[0]).replace("/0/", "/{}/")
        for name in ("milestone_move", "milestone_edit", "milestone_delete")
    ]
    last = len(milestones)
    return [
        MilestoneRow(
            pk=m.pk,
            number=n,
            name=m.name,
            signed_off=m.signed_off_at is not None,
            starts_on=m.starts_on,
            due_on=m.due_on,
            signoff_count=m.signoff_count,
            signoff_roles=list(m.signoff_roles or []),
            signoff_people=m.signoff_people,
            first=n == 1,
            last=n == last,
            url_move=urls[0].format(m.pk),
            url_edit=urls[1].format(m.pk),
            url_delete=urls[2].format(m.pk),
        )
        for n, m in enumerate(milestones, start=1)
    ]


def plan_page(*, plan: Plan, user) -> dict:
    """Everything the plan page's first answer shows: references, milestones, the moves
    the user may make. The lists come right after the page, each from its own request:
    the scope's rows (plan_scope_rows, the view that pages them), the windows and tasks
    cards (plans.views.live.plan_live_part, the views the live refresh uses), the
    readiness card and the activity feed; the top of the page does not wait for them."""
    role = role_in_team(user=user, team_id=plan.team_id)
    milestones = plan_milestones(plan=plan)
    return {
        "plan": plan,
        "references": list(plan.references.all()),
        "milestones": milestones,
        # Read once for the page's timeline and milestones (the plans_schedule tags
        # take them from here instead of reading them again).
        "schedule": {"plan_id": plan.pk, "milestones": milestones},
        "moves": []
        if plan.is_template
        else [
            (s, MOVE_LABELS[s]) for s in workflow.moves_for_role(role=role, from_status=plan.status)
        ],
        "can_edit": user_can(user=user, team_id=plan.team_id, action=Action.EDIT_PLAN),
        "can_comment": user_can(user=user, team_id=plan.team_id, action=Action.COMMENT),
        "exceptions": plan_exceptions(plan=plan) if plan.status == PlanStatus.COMPLETED_EXC else [],
    }


@dataclass(frozen=True)
class PlanException:
    """A server in scope that a plan completed without verifying."""

    server_id: int
    hostname: str
    status: str  # its last status in the plan ("" when no window reached it)
    status_label: str
    follow_up_plan_id: int | None
    follow_up_plan_title: str
    risk_accepted: bool


def plan_exceptions(*, plan: Plan) -> list[PlanException]:
    """The "with exceptions" of a completed plan: each server in scope whose last
    execution (by window start) is not Verified, with what follows it (a follow-up
    plan or an accepted risk). Three queries, whatever the sizes."""
    from plans.choices import ExecutionStatus
    from plans.models import FollowUp, ServerExecution

    latest: dict[int, str] = {}
    for server_id, status in (
        ServerExecution.objects.filter(plan_id=plan.pk, window__cancelled_at=None)
        .order_by("window__starts_at", "pk")
        .values_list("server_id", "status")
    ):
        latest[server_id] = status
    follow_ups: dict[int, tuple[int | None, str]] = {}
    for server_id, follow_up_id, follow_up_title in (
        FollowUp.objects.filter(plan_id=plan.pk)
        .order_by("at", "pk")
        .values_list("server_id", "follow_up_plan_id", "follow_up_plan__title")
    ):
        follow_ups[server_id] = (follow_up_id, follow_up_title or "")
    rows = []
    for server_id, hostname in plan.servers.order_by("hostname").values_list("pk", "hostname"):
        status = latest.get(server_id, "")
        if status == ExecutionStatus.VERIFIED:
            continue
        follow_up_id, follow_up_title = follow_ups.get(server_id, (None, ""))
        rows.append(
            PlanException(
                server_id=server_id,
                hostname=hostname,
                status=status,
                status_label=str(ExecutionStatus(status).label) if status else str(_("not run")),
                follow_up_plan_id=follow_up_id,
                follow_up_plan_title=follow_up_title,
                risk_accepted=server_id in follow_ups and follow_up_id is None,
            )
        )
    return rows


def schedules_of(*, plan: Plan) -> list:
    """A template's recurring schedules with their next date (one query)."""
    from datetime import timedelta

    from django.utils import timezone

    from plans.models import PlanSchedule

    today = timezone.localdate()
    schedules = list(
        PlanSchedule.objects.filter(template_id=plan.pk).select_related("owner").order_by("pk")
    )
    for schedule in schedules:
        upcoming = schedule.dates(max(today, schedule.starts_on), today + timedelta(days=400))
        schedule.next_date = upcoming[0] if upcoming else None
    return schedules
