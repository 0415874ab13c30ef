"""The gate model: what must hold before a milestone's work may start (its entry
checks) and before it is signed off as done (its exit checks).

Each milestone holds check codes from one fixed catalogue (`CATALOGUE`);
`Milestone.entry_checks`/`exit_checks` left empty (None) mean the defaults of its
phase (`DEFAULT_GATES`, the guide's): a milestone named otherwise has none.

`plan_gates(plan)` computes every check of every milestone of a plan in a
constant number of queries, so the plan page, the sign-off service, the
run-mode services (may a window's work start?) and the report all ask the same
thing. `plan_readiness` is its exit half (what sign-off needs).

A window's work (starting it, any server status) may start when the entry
checks of the window's milestone pass; a window with no milestone belongs to the
plan's deployment milestone when it touches production servers (production work
always needs the go) and is not gated otherwise (plans.services.gates)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext

from plans.choices import (
    FINAL_EXECUTION_STATUSES,
    ExecutionStatus,
    PlanStatus,
    SignOffDecision,
    SignOffStage,
    TestResult,
)
from plans.models import (
    BackupRecord,
    ChangeApproval,
    FollowUp,
    MaintenanceWindow,
    Milestone,
    Plan,
    ServerExecution,
    SignOff,
    TestRun,
)
from servers.choices import Environment

# Milestone names (lower-cased) -> the phase whose checks apply.
PHASES = {
    "assessment": "assessment",
    "assess": "assessment",
    "testing": "testing",
    "test": "testing",
    "tests": "testing",
    "deployment": "deployment",
    "deploy": "deployment",
    "execution": "deployment",
    "review": "review",
    "post-implementation review": "review",
}


# The window checks (plans.checks) that block deployment: conflicts, off-peak, freezes.
WINDOW_CODES = frozenset({"overlap", "outside_off_peak", "in_freeze"})


@dataclass(frozen=True)
class Check:
    """One readiness condition of a milestone: passed or not, and why."""

    code: str
    label: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class RunFact:
    """A test run as the checks read it."""

    result: str
    run_at: datetime


@dataclass(frozen=True)
class ApprovalFact:
    """A change approval as the checks read it."""

    change_id: str
    approved_at: datetime


@dataclass
class Facts:
    """What the checks of one plan need, read once."""

    plan: Plan
    # server id -> (hostname, environment)
    scope: dict[int, tuple[str, str]] = field(default_factory=dict)
    backed_up: set[int] = field(default_factory=set)
    # every test run on staging, the latest first
    staging_runs: list[RunFact] = field(default_factory=list)
    # the latest change approval (by approval time), read only when a milestone checks it
    latest_approval: ApprovalFact | None = None
    # server id -> status of its latest execution (by window start)
    statuses: dict[int, str] = field(default_factory=dict)
    # window label -> problem messages
    window_problems: dict[str, list[str]] = field(default_factory=dict)
    # server id -> when its latest package listing was taken
    listed_at: dict[int, datetime | None] = field(default_factory=dict)
    # the plan's milestones in order, and the go approvals of each one's current round
    milestones: list[Milestone] = field(default_factory=list)
    go_approvals: dict[int, int] = field(default_factory=dict)
    # (title, has actual start, has actual end) of each non-cancelled window
    window_times: list[tuple[str, bool, bool]] = field(default_factory=list)
    # servers with a follow-up (a follow-up plan or an accepted risk)
    followed_up: set[int] = field(default_factory=set)
    # the milestone being checked (set per milestone by milestone_gate)
    milestone: Milestone | None = None

    @property
    def latest_staging_run(self) -> RunFact | None:
        return self.staging_runs[0] if self.staging_runs else None


def phase_of(milestone: Milestone) -> str | None:
    return PHASES.get(milestone.name.strip().lower())


def load_facts(plan: Plan, milestones: list[Milestone] | None = None) -> Facts:
    """Read what the checks need: 8 queries plus the window checks' five (one fewer
    when the milestones are passed in), and one more only when a milestone checks for
    a change approval (`cab_approval`, a check teams add)."""
    from plans.checks import load_check_context, problems_for

    facts = Facts(plan=plan)
    for pk, hostname, env, listed in plan.servers.values_list(
        "pk", "hostname", "environment", "last_inventory_at"
    ):
        facts.scope[pk] = (hostname, env)
        facts.listed_at[pk] = listed
    if milestones is None:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    facts.milestones = [m for m in milestones if m.retired_at is None]
    rounds = {m.pk: m.signoff_round for m in facts.milestones}
    for milestone_id, round_ in SignOff.objects.filter(
        milestone__plan_id=plan.pk, stage=SignOffStage.ENTRY, decision=SignOffDecision.APPROVE
    ).values_list("milestone_id", "round"):
        if rounds.get(milestone_id) == round_:
            facts.go_approvals[milestone_id] = facts.go_approvals.get(milestone_id, 0) + 1
    facts.window_times = [
        (str(title or _("window of %(d)s") % {"d": _fmt(starts)}), a is not None, b is not None)
        for title, starts, a, b in MaintenanceWindow.objects.filter(
            plan_id=plan.pk, cancelled_at=None
        ).values_list("title", "starts_at", "actual_starts_at", "actual_ends_at")
    ]
    facts.followed_up = set(
        FollowUp.objects.filter(plan_id=plan.pk).values_list("server_id", flat=True)
    )
    facts.backed_up = set(
        BackupRecord.objects.filter(plan_id=plan.pk).values_list("server_id", flat=True)
    )
    # Every staging run's result and time in the one query that read only the latest:
    # the second-run check counts the passing ones since the last scope change.
    facts.staging_runs = [
        RunFact(result, run_at)
        for result, run_at in TestRun.objects.filter(
            plan_id=plan.pk, environment=Environment.STAGING
        )
        .order_by("-run_at", "-pk")
        .values_list("result", "run_at")
    ]
    if any("cab_approval" in codes for m in milestones for codes in gate_codes(m)):
        latest = (
            ChangeApproval.objects.filter(plan_id=plan.pk)
            .order_by("-approved_at", "-pk")
            .values_list("change_id", "approved_at")
            .first()
        )
        facts.latest_approval = ApprovalFact(*latest) if latest else None
    for server_id, status in (
        ServerExecution.objects.filter(plan_id=plan.pk, window__cancelled_at=None)
        .order_by("window__starts_at", "pk")
        .values_list("server_id", "status")
    ):
        facts.statuses[server_id] = status  # the later window wins
    ctx = load_check_context(plan)
    for w in ctx.plan_windows:
        problems = [p for p in problems_for(w, ctx) if p.code in WINDOW_CODES]
        if problems:
            facts.window_problems[w.label] = [p.message for p in problems]
    return facts


def _hosts(ids, facts: Facts, limit: int = 5) -> str:
    names = sorted(facts.scope[i][0] for i in ids)
    more = len(names) - limit
    text = ", ".join(names[:limit])
    return text + (_(" and %(n)d more") % {"n": more} if more > 0 else "")


def _fmt(at: datetime) -> str:
    # The format every page uses for a moment ("2 Dec 2026, 09:00"), with the zone named.
    local = timezone.localtime(at)
    return f"{date_format(local, 'j M Y, H:i')} {timezone.get_current_timezone_name()}"


# --- the checks ----------------------------------------------------------------


def check_scope(facts: Facts) -> Check:
    label = _("Servers in scope")
    if facts.scope:
        n = len(facts.scope)
        return Check(
            "scope",
            label,
            True,
            ngettext("%(n)d server in scope.", "%(n)d servers in scope.", n) % {"n": n},
        )
    return Check("scope", label, False, _("No servers are in the plan's scope."))


def check_test_procedure(facts: Facts) -> Check:
    label = _("Test procedure written")
    if facts.plan.test_procedure.strip():
        return Check("test_procedure", label, True, _("The plan has a test procedure."))
    return Check("test_procedure", label, False, _("The plan's test procedure is empty."))


def check_staging_servers(facts: Facts) -> Check:
    label = _("Staging servers in scope")
    staging = [i for i, (_h, env) in facts.scope.items() if env == Environment.STAGING]
    if staging:
        return Check(
            "staging_servers", label, True, _("Staging: %(h)s.") % {"h": _hosts(staging, facts)}
        )
    return Check(
        "staging_servers", label, False, _("No staging server is in scope to test on first.")
    )


def check_rollback_plan(facts: Facts) -> Check:
    label = _("Rollback plan written")
    if facts.plan.rollback_plan.strip():
        return Check("rollback_plan", label, True, _("The plan has a rollback plan."))
    return Check("rollback_plan", label, False, _("The plan's rollback plan is empty."))


def check_backups(facts: Facts) -> Check:
    label = _("Backups of production servers")
    production = {i for i, (_h, env) in facts.scope.items() if env == Environment.PRODUCTION}
    missing = production - facts.backed_up
    if not production:
        return Check("backups", label, True, _("No production server in scope."))
    if missing:
        return Check(
            "backups",
            label,
            False,
            _("No backup recorded for %(h)s.") % {"h": _hosts(missing, facts)},
        )
    return Check(
        "backups",
        label,
        True,
        ngettext(
            "Backup recorded for the production server.",
            "Backups recorded for all %(n)d production servers.",
            len(production),
        )
        % {"n": len(production)},
    )


def check_staging_test(facts: Facts) -> Check:
    label = _("Passing test run on staging since the last scope change")
    run = facts.latest_staging_run
    changed = facts.plan.scope_changed_at
    if run is None:
        return Check("staging_test", label, False, _("No test run on staging is recorded."))
    if run.result != TestResult.PASS:
        return Check(
            "staging_test",
            label,
            False,
            _("The latest test run on staging (%(at)s) failed.") % {"at": _fmt(run.run_at)},
        )
    if changed is not None and run.run_at < changed:
        return Check(
            "staging_test",
            label,
            False,
            _("The scope changed (%(changed)s) after the last passing test run (%(at)s).")
            % {"changed": _fmt(changed), "at": _fmt(run.run_at)},
        )
    return Check(
        "staging_test",
        label,
        True,
        _("Passed on staging on %(at)s.") % {"at": _fmt(run.run_at)},
    )


def check_second_staging_test(facts: Facts) -> Check:
    """Two passing runs on staging since the last scope change, and the latest run passed:
    for teams whose change process wants the test repeated (a flaky first pass, a rerun
    after fixes) before deployment."""
    code = "second_staging_test"
    label = _("Two passing test runs on staging since the last scope change")
    changed = facts.plan.scope_changed_at
    latest = facts.latest_staging_run
    if latest is None:
        return Check(code, label, False, _("No test run on staging is recorded."))
    if latest.result != TestResult.PASS:
        return Check(
            code,
            label,
            False,
            _("The latest test run on staging (%(at)s) failed.") % {"at": _fmt(latest.run_at)},
        )
    passing = [
        r
        for r in facts.staging_runs
        if r.result == TestResult.PASS and (changed is None or r.run_at >= changed)
    ]
    n = len(passing)
    if n < 2:
        if changed is None:
            reason = ngettext(
                "%(n)d passing test run on staging: two are needed.",
                "%(n)d passing test runs on staging: two are needed.",
                n,
            ) % {"n": n}
        else:
            reason = ngettext(
                "%(n)d passing test run on staging since the scope changed (%(changed)s): "
                "two are needed.",
                "%(n)d passing test runs on staging since the scope changed (%(changed)s): "
                "two are needed.",
                n,
            ) % {"n": n, "changed": _fmt(changed)}
        return Check(code, label, False, reason)
    when = {"n": n, "at": _fmt(passing[0].run_at), "before": _fmt(passing[1].run_at)}
    if changed is None:
        reason = (
            _(
                "%(n)d passing test runs on staging, the latest on %(at)s, the one before on "
                "%(before)s."
            )
            % when
        )
    else:
        reason = _(
            "%(n)d passing test runs on staging since the scope changed (%(changed)s), the "
            "latest on %(at)s, the one before on %(before)s."
        ) % {**when, "changed": _fmt(changed)}
    return Check(code, label, True, reason)


def check_cab_approval(facts: Facts) -> Check:
    """The change approved (by the CAB, in the team's ITSM tool) after the last scope
    change: a change approved for other servers is not this change's approval."""
    code = "cab_approval"
    label = _("Change approved by the CAB since the last scope change")
    approval = facts.latest_approval
    changed = facts.plan.scope_changed_at
    if approval is None:
        return Check(code, label, False, _("No change approval is recorded."))
    if changed is not None and approval.approved_at < changed:
        return Check(
            code,
            label,
            False,
            _("The scope changed (%(changed)s) after %(change)s was approved (%(at)s).")
            % {
                "changed": _fmt(changed),
                "change": approval.change_id,
                "at": _fmt(approval.approved_at),
            },
        )
    return Check(
        code,
        label,
        True,
        _("%(change)s approved on %(at)s.")
        % {"change": approval.change_id, "at": _fmt(approval.approved_at)},
    )


def check_windows(facts: Facts) -> Check:
    label = _("Windows free of conflicts, in off-peak hours, outside freezes")
    if not facts.window_problems:
        return Check("windows", label, True, _("No window has a problem."))
    reasons = "; ".join(
        f"{name}: {' '.join(msgs)}" for name, msgs in sorted(facts.window_problems.items())
    )
    return Check("windows", label, False, reasons)


def check_final_states(facts: Facts) -> Check:
    label = _("Every server in a final state")
    final = {str(s) for s in FINAL_EXECUTION_STATUSES}
    if not facts.scope:
        return Check("final_states", label, False, _("No servers are in the plan's scope."))
    open_ = [i for i in facts.scope if facts.statuses.get(i, ExecutionStatus.PENDING) not in final]
    if open_:
        return Check(
            "final_states",
            label,
            False,
            _("Not verified, failed or rolled back yet: %(h)s.") % {"h": _hosts(open_, facts)},
        )
    return Check("final_states", label, True, _("Every server in scope reached a final state."))


def listing_max_age_days(plan: Plan) -> int:
    """The team's freshness limit for package listings (days; team settings)."""
    return plan.team.listing_max_age_days


def check_fresh_listings(facts: Facts) -> Check:
    label = _("A fresh package listing for every server in scope")
    if not facts.scope:
        return Check("fresh_listings", label, False, _("No servers are in the plan's scope."))
    days = listing_max_age_days(facts.plan)
    oldest_ok = timezone.now() - timedelta(days=days)
    stale = [i for i, at in facts.listed_at.items() if at is None or at < oldest_ok]
    if stale:
        return Check(
            "fresh_listings",
            label,
            False,
            _("No listing in the last %(d)d days for %(h)s.")
            % {"d": days, "h": _hosts(stale, facts)},
        )
    return Check(
        "fresh_listings",
        label,
        True,
        _("Every server has a listing of the last %(d)d days.") % {"d": days},
    )


def _previous_phase(facts: Facts, phase: str) -> Milestone | None:
    before = []
    for m in facts.milestones:
        if facts.milestone is not None and m.pk == facts.milestone.pk:
            break
        before.append(m)
    return next((m for m in reversed(before) if phase_of(m) == phase), None)


def check_testing_signed_off(facts: Facts) -> Check:
    label = _("Testing signed off")
    testing = _previous_phase(facts, "testing")
    if testing is None:
        return Check("testing_signed_off", label, False, _("The plan has no testing milestone."))
    if testing.signed_off_at is None:
        return Check(
            "testing_signed_off", label, False, _("“%(m)s” is not signed off.") % {"m": testing}
        )
    return Check(
        "testing_signed_off",
        label,
        True,
        _("“%(m)s” signed off on %(at)s.") % {"m": testing, "at": _fmt(testing.signed_off_at)},
    )


def check_go_approval(facts: Facts) -> Check:
    label = _("The go from the milestone's approvers")
    m = facts.milestone
    if m is None:
        return Check("go_approval", label, False, "")
    if m.go_given_at is not None:
        return Check(
            "go_approval", label, True, _("Go given on %(at)s.") % {"at": _fmt(m.go_given_at)}
        )
    n = facts.go_approvals.get(m.pk, 0)
    return Check(
        "go_approval",
        label,
        False,
        ngettext("%(n)d of %(k)d go approval.", "%(n)d of %(k)d go approvals.", m.signoff_count)
        % {"n": n, "k": m.signoff_count},
    )


def check_lessons_learned(facts: Facts) -> Check:
    label = _("Lessons learned written")
    if facts.plan.lessons_learned.strip():
        return Check("lessons_learned", label, True, _("The review's lessons learned are written."))
    return Check("lessons_learned", label, False, _("Write the lessons learned of the review."))


def check_window_times(facts: Facts) -> Check:
    label = _("Actual start and end of every window")
    missing = [t for t, started, ended in facts.window_times if not (started and ended)]
    if missing:
        return Check(
            "window_times",
            label,
            False,
            _("No actual start or end for: %(w)s.") % {"w": ", ".join(sorted(missing)[:5])},
        )
    return Check("window_times", label, True, _("Every window's actual times are recorded."))


def check_follow_ups(facts: Facts) -> Check:
    label = _("A follow-up for every failed or rolled-back server")
    bad = {ExecutionStatus.FAILED, ExecutionStatus.ROLLED_BACK}
    open_ = [i for i in facts.scope if facts.statuses.get(i) in bad and i not in facts.followed_up]
    if open_:
        return Check(
            "follow_ups",
            label,
            False,
            _("No follow-up plan or accepted risk for %(h)s.") % {"h": _hosts(open_, facts)},
        )
    return Check("follow_ups", label, True, _("Every failed or rolled-back server has one."))


def check_plan_approved(plan: Plan) -> Check:
    """The plan-wide condition of every window's work: the plan was reviewed and
    approved. Not a milestone check (no team may drop it, no emergency change opens
    it): a draft was never reviewed by anyone."""
    label = _("Plan approved")
    if plan.status == PlanStatus.DRAFT:
        return Check(
            "plan_approved",
            label,
            False,
            _("The plan is a draft: send it for review and get it approved first."),
        )
    if plan.status == PlanStatus.IN_REVIEW:
        return Check(
            "plan_approved",
            label,
            False,
            _("The plan is in review: an approver must approve it first."),
        )
    return Check(
        "plan_approved",
        label,
        True,
        _("The plan is %(s)s.") % {"s": PlanStatus(plan.status).label.lower()},
    )


# What each check is called on the milestone form.
LABELS = {
    "scope": _lazy("Servers in scope"),
    "fresh_listings": _lazy("A fresh package listing for every server in scope"),
    "test_procedure": _lazy("Test procedure written"),
    "staging_servers": _lazy("Staging servers in scope"),
    "staging_test": _lazy("Passing test run on staging since the last scope change"),
    "second_staging_test": _lazy("Two passing test runs on staging since the last scope change"),
    "testing_signed_off": _lazy("Testing signed off"),
    "rollback_plan": _lazy("Rollback plan written"),
    "backups": _lazy("Backups of production servers"),
    "windows": _lazy("Windows free of conflicts, in off-peak hours, outside freezes"),
    "cab_approval": _lazy("Change approved by the CAB since the last scope change"),
    "go_approval": _lazy("The go from the milestone's approvers"),
    "final_states": _lazy("Every server in a final state"),
    "lessons_learned": _lazy("Lessons learned written"),
    "window_times": _lazy("Actual start and end of every window"),
    "follow_ups": _lazy("A follow-up for every failed or rolled-back server"),
}

# The fixed catalogue teams pick a milestone's checks from: code -> check.
CATALOGUE = {
    "scope": check_scope,
    "fresh_listings": check_fresh_listings,
    "test_procedure": check_test_procedure,
    "staging_servers": check_staging_servers,
    "staging_test": check_staging_test,
    "second_staging_test": check_second_staging_test,
    "testing_signed_off": check_testing_signed_off,
    "rollback_plan": check_rollback_plan,
    "backups": check_backups,
    "windows": check_windows,
    "cab_approval": check_cab_approval,
    "go_approval": check_go_approval,
    "final_states": check_final_states,
    "lessons_learned": check_lessons_learned,
    "window_times": check_window_times,
    "follow_ups": check_follow_ups,
}


def catalogue_choices() -> list[tuple[str, str]]:
    """(code, label) of every check a team can give a milestone."""
    return [(code, str(LABELS[code])) for code in CATALOGUE]


# The guide's defaults per phase: (entry, exit).
DEFAULT_GATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "assessment": ((), ("scope", "fresh_listings")),
    "testing": (("test_procedure", "staging_servers"), ("staging_test",)),
    "deployment": (
        ("testing_signed_off", "rollback_plan", "backups", "windows", "go_approval"),
        ("final_states",),
    ),
    "review": ((), ("lessons_learned", "window_times", "follow_ups")),
}


def gate_codes(milestone: Milestone) -> tuple[list[str], list[str]]:
    """The milestone's (entry, exit) check codes: its own, or its phase's defaults."""
    entry, exit_ = DEFAULT_GATES.get(phase_of(milestone) or "", ((), ()))
    if milestone.entry_checks is not None:
        entry = milestone.entry_checks
    if milestone.exit_checks is not None:
        exit_ = milestone.exit_checks
    return [c for c in entry if c in CATALOGUE], [c for c in exit_ if c in CATALOGUE]


@dataclass(frozen=True)
class Gate:
    """A milestone's entry and exit checks, computed."""

    entry: list[Check]
    exit: list[Check]

    @property
    def needs_go(self) -> bool:
        return any(c.code == "go_approval" for c in self.entry)

    @property
    def may_start(self) -> bool:
        return not failing(self.entry)

    @property
    def may_finish(self) -> bool:
        return not failing(self.exit)


def milestone_gate(milestone: Milestone, facts: Facts) -> Gate:
    facts.milestone = milestone
    entry, exit_ = gate_codes(milestone)
    gate = Gate([CATALOGUE[c](facts) for c in entry], [CATALOGUE[c](facts) for c in exit_])
    facts.milestone = None
    return gate


def plan_gates(plan: Plan, milestones: list[Milestone] | None = None) -> dict[int, Gate]:
    """Every milestone's gate, by milestone id: 13 queries whatever the sizes
    (12 when the milestones are passed in; one more when a milestone checks for a
    change approval)."""
    if milestones is None:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    facts = load_facts(plan, milestones)
    return {m.pk: milestone_gate(m, facts) for m in milestones}


def milestone_checks(milestone: Milestone, facts: Facts) -> list[Check]:
    """The exit checks (what signing it off as done needs)."""
    return milestone_gate(milestone, facts).exit


def plan_readiness(plan: Plan, milestones: list[Milestone] | None = None) -> dict[int, list[Check]]:
    """Every milestone's exit checks, by milestone id (see plan_gates)."""
    return {pk: gate.exit for pk, gate in plan_gates(plan, milestones).items()}


def failing(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]
