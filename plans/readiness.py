"""Readiness checks: the guide's best practices as conditions a milestone must meet
before it is signed off (or an approver overrides them with a written reason).

`plan_readiness(plan)` computes every check of every milestone of a plan in a
constant number of queries (milestones, scope, backups, the latest staging
test run, executions, and the window checks' five), so the plan page, the
sign-off service and the report all call the same thing.

Which checks a milestone gets depends on its name: the default phases
(assessment, testing, deployment, review) and common synonyms. A milestone
with another name has no checks; only its approvals count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from plans.choices import FINAL_EXECUTION_STATUSES, ExecutionStatus, TestResult
from plans.models import BackupRecord, Milestone, Plan, ServerExecution, TestRun
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


@dataclass
class Facts:
    """What the checks of one plan need, read once."""

    plan: Plan
    # server id -> (hostname, environment)
    scope: dict[int, tuple[str, str]] = field(default_factory=dict)
    backed_up: set[int] = field(default_factory=set)
    latest_staging_run: TestRun | None = None
    # server id -> status of its latest execution (by window start)
    statuses: dict[int, str] = field(default_factory=dict)
    # window label -> problem messages
    window_problems: dict[str, list[str]] = field(default_factory=dict)


def phase_of(milestone: Milestone) -> str | None:
    return PHASES.get(milestone.name.strip().lower())


def load_facts(plan: Plan) -> Facts:
    """Read what the checks need: 4 queries plus the window checks' five."""
    from plans.checks import load_check_context, problems_for

    facts = Facts(plan=plan)
    for pk, hostname, env in plan.servers.values_list("pk", "hostname", "environment"):
        facts.scope[pk] = (hostname, env)
    facts.backed_up = set(
        BackupRecord.objects.filter(plan_id=plan.pk).values_list("server_id", flat=True)
    )
    facts.latest_staging_run = (
        TestRun.objects.filter(plan_id=plan.pk, environment=Environment.STAGING)
        .order_by("-run_at", "-pk")
        .first()
    )
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
    from django.utils import timezone

    local = timezone.localtime(at)
    return f"{local:%d %b %Y %H:%M} {timezone.get_current_timezone_name()}"


# --- the checks ----------------------------------------------------------------


def check_scope(facts: Facts) -> Check:
    label = _("Servers in scope")
    if facts.scope:
        n = len(facts.scope)
        return Check("scope", label, True, _("%(n)d server(s) in scope.") % {"n": n})
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
        _("Backups recorded for all %(n)d production server(s).") % {"n": len(production)},
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


CHECKS_BY_PHASE = {
    "assessment": (check_scope,),
    "testing": (check_test_procedure, check_staging_servers),
    "deployment": (check_rollback_plan, check_backups, check_staging_test, check_windows),
    "review": (check_final_states,),
}


def milestone_checks(milestone: Milestone, facts: Facts) -> list[Check]:
    return [check(facts) for check in CHECKS_BY_PHASE.get(phase_of(milestone) or "", ())]


def plan_readiness(plan: Plan, milestones: list[Milestone] | None = None) -> dict[int, list[Check]]:
    """Every milestone's checks, by milestone id: 10 queries whatever the sizes
    (9 when the milestones are passed in)."""
    if milestones is None:
        milestones = list(Milestone.objects.filter(plan_id=plan.pk).order_by("position", "pk"))
    facts = load_facts(plan)
    return {m.pk: milestone_checks(m, facts) for m in milestones}


def failing(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.passed]
