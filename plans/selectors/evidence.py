"""Reads of a plan's evidence: backup records, test runs and change approvals."""

from __future__ import annotations

from django.db.models import Prefetch

from plans.models import BackupRecord, ChangeApproval, Plan, TestRun
from servers.models import Server


def plan_evidence(*, plan: Plan) -> dict:
    """Backups (newest first), test runs (newest first, with their servers), the
    latest run per environment (the one that counts) and the change approvals (latest
    approval first): 4 queries."""
    backups = list(
        BackupRecord.objects.filter(plan_id=plan.pk)
        .select_related("server", "verified_by", "created_by")
        .order_by("server__hostname", "-created_at", "-pk")
    )
    runs = list(
        TestRun.objects.filter(plan_id=plan.pk)
        .select_related("run_by")
        .prefetch_related(
            Prefetch("servers", queryset=Server.objects.only("pk", "hostname", "environment"))
        )
        .order_by("-run_at", "-pk")
    )
    latest: dict[str, TestRun] = {}
    for run in runs:
        latest.setdefault(run.environment, run)
    for run in runs:
        run.counts = latest.get(run.environment) is run
    approvals = list(
        ChangeApproval.objects.filter(plan_id=plan.pk)
        .select_related("recorded_by")
        .order_by("-approved_at", "-pk")
    )
    return {
        "backups": backups,
        "test_runs": runs,
        "latest_runs": latest,
        "change_approvals": approvals,
    }
