"""Shared set-up for the issue-5 tests (running a plan): a database upgrade plan
with a production and a staging server, built through the services."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from plans.services.plans import plan_create, plan_scope_add
from plans.services.windows import window_create
from servers.choices import Environment
from tests import factories

DPKG_BEFORE = "postgresql-15\t15.4-1\nlibpq5\t15.4-1\nbash\t5.2.15-2\n"
DPKG_AFTER = "postgresql-15\t15.6-0+deb12u1\nlibpq5\t15.6-0+deb12u1\nbash\t5.2.15-2\n"


def make_plan(team, owner, *, title: str = "Upgrade PostgreSQL 15", **fields):
    defaults = {
        "kind": "software_upgrade",
        "objective": "Upgrade the database servers to PostgreSQL 15.6.",
        "test_procedure": "Run the application's integration tests against the replica.",
        "rollback_plan": "Restore db_backup.sql with psql.",
        "packages": ["postgresql-15"],
    }
    defaults.update(fields)
    return plan_create(team=team, title=title, owner=owner, by=owner, **defaults)


def make_servers(team, plan, by, *, production: int = 1, staging: int = 1, prefix: str = "db"):
    servers = [
        factories.ServerFactory(
            team=team, hostname=f"{prefix}-prod-{i}", environment=Environment.PRODUCTION
        )
        for i in range(1, production + 1)
    ] + [
        factories.ServerFactory(
            team=team, hostname=f"{prefix}-staging-{i}", environment=Environment.STAGING
        )
        for i in range(1, staging + 1)
    ]
    plan_scope_add(plan=plan, servers=servers, by=by)
    plan.refresh_from_db()
    return servers


def make_window(plan, servers, by, *, starts=None, hours: int = 2, downtime: int = 20, **kw):
    starts = starts or timezone.now() - timedelta(hours=3)
    return window_create(
        plan=plan,
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        downtimes=dict.fromkeys(servers, downtime),
        by=by,
        **kw,
    )


def approve(plan, *, planner, approver):
    """Review and approve the plan (a window's work waits for that, plans.services.gates)."""
    from plans.choices import PlanStatus
    from plans.services.plans import plan_transition

    plan_transition(plan=plan, to_status=PlanStatus.IN_REVIEW, by=planner)
    plan_transition(plan=plan, to_status=PlanStatus.APPROVED, by=approver)
    plan.refresh_from_db()
    return plan


def milestone(plan, name: str):
    return plan.milestones.get(name=name)


def record_listings(servers, *, taken_at=None, data: str = DPKG_BEFORE) -> None:
    """A package listing for each server (the assessment's fresh listings)."""
    from servers.inventory import inventory_import

    at = taken_at or timezone.now() - timedelta(days=1)
    for s in servers:
        inventory_import(server=s, data=data, source="upload", taken_at=at)


def give_go(plan, servers, *, planner, approver, assessed: bool = False):
    """Pass the gates before deployment properly, through the services: fresh
    listings and the assessment signed off, a passing staging test run and the
    testing signed off, backups of the production servers, and the deployment's go
    by the approver; a draft plan is reviewed and approved first (no window's work
    starts before that). Returns the deployment milestone."""
    from plans.choices import PlanStatus, SignOffStage
    from plans.services.evidence import backup_record_create, testrun_create
    from plans.services.signoff import signoff_give

    if plan.status == PlanStatus.DRAFT:
        approve(plan, planner=planner, approver=approver)
    if not assessed:
        record_listings(servers)
        signoff_give(milestone=milestone(plan, "assessment"), by=approver, decision="approve")
    testrun_create(
        plan=plan,
        result="pass",
        by=planner,
        servers=[s for s in servers if s.environment == Environment.STAGING],
    )
    signoff_give(milestone=milestone(plan, "testing"), by=approver, decision="approve")
    for s in servers:
        if s.environment == Environment.PRODUCTION:
            backup_record_create(
                plan=plan, server=s, what="pg_dumpall", location="backup-01:/srv", by=planner
            )
    deployment = milestone(plan, "deployment")
    signoff_give(milestone=deployment, by=approver, decision="approve", stage=SignOffStage.ENTRY)
    deployment.refresh_from_db()
    return deployment
