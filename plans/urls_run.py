"""URLs of running a plan (issue 5), included by plans/urls.py."""

from django.urls import path

from .views import evidence, execution, history, log, report, signoff

_RUN = "<int:plan_id>/windows/<int:window_id>/run/"

urlpatterns = [
    path("<int:plan_id>/evidence/", evidence.evidence_page, name="plan_evidence"),
    path("<int:plan_id>/evidence/backups/", evidence.backup_create, name="backup_create"),
    path("<int:plan_id>/evidence/tests/", evidence.testrun_create, name="testrun_create"),
    path(
        "<int:plan_id>/evidence/approvals/",
        evidence.change_approval_create,
        name="change_approval_create",
    ),
    path(_RUN, execution.run_page, name="plan_window_run"),
    path(_RUN + "board/", execution.run_board_partial, name="plan_window_run_board"),
    path(_RUN + "times/", execution.run_times, name="run_times"),
    path(_RUN + "override/", execution.run_override, name="run_override"),
    path(_RUN + "servers/<int:server_id>/status/", execution.run_status, name="run_status"),
    path(_RUN + "servers/<int:server_id>/downtime/", execution.run_downtime, name="run_downtime"),
    path(_RUN + "servers/<int:server_id>/listing/", execution.run_listing, name="run_listing"),
    path("<int:plan_id>/signoff/", signoff.readiness_panel, name="plan_signoff"),
    path(
        "<int:plan_id>/milestones/<int:milestone_id>/signoff/",
        signoff.signoff_create,
        name="signoff_create",
    ),
    path("<int:plan_id>/log/", log.log_page, name="plan_log"),
    path("<int:plan_id>/log/new/", log.log_create, name="log_create"),
    path("<int:plan_id>/log/<int:entry_id>/", log.log_entry_detail, name="log_entry"),
    path("<int:plan_id>/history/", history.history, name="plan_history"),
    path("<int:plan_id>/review/", report.review_page, name="plan_review"),
    path("<int:plan_id>/review/lessons/", report.lessons_update, name="lessons_update"),
    path("<int:plan_id>/review/follow-up/", report.follow_up_create, name="follow_up_create"),
    path(
        "<int:plan_id>/review/accept-risk/<int:server_id>/",
        report.follow_up_accept_risk,
        name="follow_up_accept_risk",
    ),
    path("<int:plan_id>/report/", report.report_page, name="plan_report"),
    path("<int:plan_id>/report.md", report.report_markdown, name="plan_report_md"),
]
