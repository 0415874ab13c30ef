"""Reads for documenting a plan: the post-implementation review (planned vs actual
downtime, failures, overrides), the audit history, the log, and the whole report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from plans.choices import ExecutionStatus, SignOffStage
from plans.models import (
    AuditEvent,
    FollowUp,
    GateOverride,
    LogEntry,
    LogEntryRevision,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanStatusChange,
    ServerExecution,
    SignOff,
    WindowServer,
)
from plans.readiness import plan_gates
from plans.selectors.evidence import plan_evidence

HISTORY_PAGE = 100


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60)


@dataclass
class ServerReview:
    """A server in a window: expected and recorded downtime, final status."""

    server: object
    expected: int
    actual: int | None
    status: str
    execution: ServerExecution | None

    @property
    def overrun(self) -> int:
        return max(0, (self.actual or 0) - self.expected) if self.actual is not None else 0

    @property
    def overran(self) -> bool:
        return self.overrun > 0

    @property
    def status_label(self) -> str:
        return ExecutionStatus(self.status).label


@dataclass
class WindowReview:
    """A window: planned length against the actual start to end, and its servers."""

    window: MaintenanceWindow
    planned: int
    actual: int | None
    servers: list[ServerReview] = field(default_factory=list)

    @property
    def overrun(self) -> int:
        return max(0, self.actual - self.planned) if self.actual is not None else 0

    @property
    def overran(self) -> bool:
        return self.overrun > 0

    @property
    def expected_downtime(self) -> int:
        return sum(s.expected for s in self.servers)

    @property
    def actual_downtime(self) -> int | None:
        recorded = [s.actual for s in self.servers if s.actual is not None]
        return sum(recorded) if recorded else None


def plan_review(*, plan: Plan) -> dict:
    """Planned vs actual downtime per window and server, the failed and rolled-back
    servers and their follow-ups, the emergency changes and early starts: 6 queries
    (windows, their servers, executions, sign-offs with an override, emergency
    changes, follow-ups)."""
    windows = list(
        MaintenanceWindow.objects.filter(plan_id=plan.pk, cancelled_at=None)
        .select_related("milestone", "plan")
        .prefetch_related(
            Prefetch(
                "windowserver_set",
                queryset=WindowServer.objects.select_related("server").order_by("server__hostname"),
                to_attr="entries",
            )
        )
        .order_by("starts_at", "pk")
    )
    executions = {
        (e.window_id, e.server_id): e
        for e in ServerExecution.objects.filter(plan_id=plan.pk).select_related("updated_by")
    }
    reviews = []
    for w in windows:
        review = WindowReview(
            window=w,
            planned=_minutes(w.starts_at, w.ends_at) or 0,
            actual=_minutes(w.actual_starts_at, w.actual_ends_at),
        )
        for entry in w.entries:
            ex = executions.get((w.pk, entry.server_id))
            review.servers.append(
                ServerReview(
                    server=entry.server,
                    expected=entry.expected_downtime_minutes,
                    actual=ex.downtime_minutes if ex else None,
                    status=ex.status if ex else ExecutionStatus.PENDING,
                    execution=ex,
                )
            )
        reviews.append(review)
    troubles = [
        (r.window, s)
        for r in reviews
        for s in r.servers
        if s.status in (ExecutionStatus.FAILED, ExecutionStatus.ROLLED_BACK)
    ]
    overrides = list(
        SignOff.objects.filter(milestone__plan_id=plan.pk)
        .exclude(override_reason="")
        .select_related("user", "milestone")
        .order_by("at", "pk")
    )
    emergencies = list(
        GateOverride.objects.filter(plan_id=plan.pk)
        .select_related("by", "window", "milestone")
        .order_by("at", "pk")
    )
    follow_ups = list(
        FollowUp.objects.filter(plan_id=plan.pk)
        .select_related("by", "server", "follow_up_plan")
        .order_by("at", "pk")
    )
    followed = {f.server_id for f in follow_ups}
    return {
        "windows": reviews,
        "troubles": troubles,
        # failed or rolled-back servers that still need a follow-up plan or an accepted risk
        "unfollowed": sorted(
            {s.server for _w, s in troubles if s.server.pk not in followed},
            key=lambda s: s.hostname,
        ),
        "overrides": overrides,
        "emergencies": emergencies,
        "early_starts": [r.window for r in reviews if r.window.started_early],
        "follow_ups": follow_ups,
        "overran_windows": [r for r in reviews if r.overran],
    }


def plan_log(*, plan: Plan) -> list[LogEntry]:
    """Log entries, oldest first, with author, window, server and revisions: 2 queries."""
    return list(
        LogEntry.objects.filter(plan_id=plan.pk)
        .select_related("author", "window__plan", "server")
        .prefetch_related(
            Prefetch(
                "revisions",
                queryset=LogEntryRevision.objects.select_related("edited_by").order_by(
                    "edited_at", "pk"
                ),
            )
        )
        .order_by("created_at", "pk")
    )


@dataclass
class HistoryFilters:
    """The history page's GET parameters, cleaned (unknown values ignored)."""

    object_type: str = ""
    by: int | None = None
    q: str = ""
    # Days in the viewer's zone, inclusive.
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_query(cls, params) -> HistoryFilters:
        by = params.get("by", "")

        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(params.get(name, "")[:10])
            except ValueError:
                return None

        return cls(
            object_type=params.get("type", "").replace("\x00", "")[:50],
            by=int(by) if by.isdecimal() and len(by) < 10 else None,
            # PostgreSQL refuses NUL in a string: drop it rather than answer 500.
            q=params.get("q", "").replace("\x00", "").strip()[:100],
            since=day("since"),
            until=day("until"),
        )

    @property
    def active(self) -> bool:
        return bool(self.object_type or self.by or self.q or self.since or self.until)


def plan_history(*, plan: Plan, filters: HistoryFilters) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(plan_id=plan.pk).select_related("by")
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type)
    if filters.by:
        qs = qs.filter(by_id=filters.by)
    zone = timezone.get_current_timezone()
    if filters.since:
        qs = qs.filter(at__gte=datetime.combine(filters.since, time(0), tzinfo=zone))
    if filters.until:
        after = filters.until + timedelta(days=1)
        qs = qs.filter(at__lt=datetime.combine(after, time(0), tzinfo=zone))
    if filters.q:
        from django.db.models import Q

        qs = qs.filter(
            Q(field__icontains=filters.q)
            | Q(old_value__icontains=filters.q)
            | Q(new_value__icontains=filters.q)
            | Q(object_repr__icontains=filters.q)
        )
    return qs.order_by("-at", "-pk")


def history_page(*, plan: Plan, filters: HistoryFilters, page: str | None) -> dict:
    """One page of the history with the filter choices: 4 queries (count, page, the
    object types present, the people present)."""
    from patchplan.accounts.models import User

    paginator = Paginator(plan_history(plan=plan, filters=filters), HISTORY_PAGE)
    page_obj = paginator.get_page(page)
    base = AuditEvent.objects.filter(plan_id=plan.pk)
    types = list(base.order_by("object_type").values_list("object_type", flat=True).distinct())
    people = list(
        User.objects.filter(pk__in=base.values("by_id")).order_by(
            "first_name", "last_name", "username"
        )
    )
    from plans.history_labels import label_rows, part_label

    label_rows(page_obj.object_list)
    return {
        "page_obj": page_obj,
        "types": [(t, part_label(t)) for t in types],
        "people": people,
        "filters": filters,
    }


def plan_report(*, plan: Plan) -> dict:
    """Everything the report shows, in a constant number of queries (about 25:
    references, scope, milestones with sign-offs and people, readiness, windows,
    executions, evidence, log, status changes, review)."""
    milestones = plan_report_milestones(plan=plan)
    return {
        "plan": plan,
        "references": list(plan.references.all()),
        "scope": list(plan.servers.order_by("environment", "hostname")),
        "milestones": milestones,
        "status_changes": list(
            PlanStatusChange.objects.filter(plan_id=plan.pk).select_related("by").order_by("at")
        ),
        "tasks": list(plan.tasks.select_related("assignee", "milestone")),
        **plan_evidence(plan=plan),
        "log": plan_log(plan=plan),
        "review": plan_review(plan=plan),
    }


def signoff_panel(*, plan: Plan, user) -> dict:
    """Each milestone with its readiness checks, its sign-offs (current round and
    earlier ones) and whether `user` may sign it now, and the windows to run: 15
    queries whatever the sizes (milestones, sign-off people, sign-offs, the readiness
    checks' nine, the windows, the emergency changes).

    Once a milestone's work has started (a window of it started, or it is signed
    off) its entry gate is history: the panel says how it started (after the go, or
    on an emergency change, with who, when and why), never "may not start yet"."""
    from patchplan.teams.selectors import role_in_team
    from plans.services.signoff import signoff_eligible

    data = plan_report_milestones(plan=plan)
    role = role_in_team(user=user, team_id=plan.team_id)
    open_seen = False
    four_eyes_blocked = plan.team.four_eyes and plan.owner_id == user.pk
    windows = list(
        MaintenanceWindow.objects.filter(plan_id=plan.pk, cancelled_at=None)
        .select_related("plan")
        .order_by("starts_at", "pk")
    )
    started = {w.milestone_id for w in windows if w.actual_starts_at is not None}
    emergencies = list(
        GateOverride.objects.filter(plan_id=plan.pk)
        .select_related("by", "window")
        .order_by("at", "pk")
    )
    for m in data:
        m.emergencies = [o for o in emergencies if o.milestone_id == m.pk]
        m.work_started = bool(m.emergencies) or m.pk in started or m.signed_off_at is not None
        m.current = [s for s in m.signoffs.all() if s.round == m.signoff_round]
        m.earlier = [s for s in m.signoffs.all() if s.round != m.signoff_round]
        done = [s for s in m.current if s.stage == SignOffStage.EXIT]
        go = [s for s in m.current if s.stage == SignOffStage.ENTRY]
        m.approvals = sum(1 for s in done if s.decision == "approve")
        m.go_approvals = sum(1 for s in go if s.decision == "approve")
        m.failing = [c for c in m.checks if not c.passed]
        m.entry_failing = [c for c in m.gate.entry if not c.passed and c.code != "go_approval"]
        m.is_next = m.signed_off_at is None and not open_seen
        if m.signed_off_at is None and m.retired_at is None:
            open_seen = True
        m.already = any(s.user_id == user.pk for s in done)
        m.eligible = signoff_eligible(milestone=m, user=user, role=role)
        may = m.eligible and not four_eyes_blocked and not plan.is_template
        may = may and m.retired_at is None and m.signed_off_at is None
        m.can_sign = may and m.is_next and not m.already
        # The go is given before the milestone's work, whatever its place in the order.
        m.can_go = (
            may
            and m.gate.needs_go
            and m.go_given_at is None
            and not any(s.user_id == user.pk for s in go)
        )
    return {
        "plan": plan,
        "milestones": data,
        "four_eyes_blocked": four_eyes_blocked,
        "windows": windows,
    }


def plan_report_milestones(*, plan: Plan) -> list[Milestone]:
    """Milestones with sign-off people, sign-offs (with users) and readiness checks."""
    milestones = list(
        Milestone.objects.filter(plan_id=plan.pk)
        .prefetch_related(
            "signoff_users",
            Prefetch(
                "signoffs",
                queryset=SignOff.objects.select_related("user").order_by("at", "pk"),
            ),
        )
        .order_by("position", "pk")
    )
    gates = plan_gates(plan, milestones)
    for m in milestones:
        m.gate = gates[m.pk]
        m.checks = m.gate.exit
    return milestones
