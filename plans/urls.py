from django.urls import path

from .urls_run import urlpatterns as run_urlpatterns
from .views import document as document_views
from .views import document_history as document_history_views
from .views import live as live_views
from .views import plans as plan_views
from .views import raci as raci_views
from .views import rows as row_views
from .views import schedules as schedule_views
from .views import server_bulk as server_bulk_views
from .views import tasks as task_views
from .views import windows as window_views

urlpatterns = [
    path("", plan_views.plan_list, name="plan_list"),
    path("<int:plan_id>/", plan_views.plan_detail, name="plan_detail"),
    # The plan document, workflow, scope, milestones, comments, YAML, templates (part A)
    path("new/", plan_views.plan_create, name="plan_create"),
    path("import/", plan_views.plan_import, name="plan_import"),
    path("scope-from-fleet/", plan_views.plan_scope_from_fleet, name="plan_scope_from_fleet"),
    path("picker/", plan_views.plan_picker, name="plan_picker"),
    path("add-servers/", server_bulk_views.plan_add_servers, name="plan_add_servers"),
    path("templates/", plan_views.template_list, name="template_list"),
    path("<int:plan_id>/edit/", plan_views.plan_edit, name="plan_edit"),
    # Before the sections' pattern, which would take "preview" for a section's name.
    path(
        "<int:plan_id>/doc/preview/",
        document_history_views.document_preview,
        name="document_preview",
    ),
    path("<int:plan_id>/doc/<slug:section>/", document_views.plan_section, name="plan_section"),
    path("<int:plan_id>/live/", live_views.plan_live, name="plan_live"),
    path("rows/<slug:kind>/<int:pk>/", row_views.plan_row, name="plan_row"),
    path("<int:plan_id>/live/<slug:part>/", live_views.plan_live_part, name="plan_live_part"),
    path(
        "<int:plan_id>/doc/<slug:field>/versions/",
        document_history_views.document_history,
        name="document_history",
    ),
    path("<int:plan_id>/delete/", plan_views.plan_delete, name="plan_delete"),
    path("<int:plan_id>/status/", plan_views.plan_transition, name="plan_transition"),
    path("<int:plan_id>/scope/", plan_views.plan_scope, name="plan_scope"),
    path("<int:plan_id>/scope/rows/", plan_views.plan_scope_rows, name="plan_scope_rows"),
    path("<int:plan_id>/activity/", plan_views.plan_activity, name="plan_activity"),
    path("<int:plan_id>/comments/", plan_views.comment_create, name="comment_create"),
    path("<int:plan_id>/mentions/", plan_views.mention_suggestions, name="mention_suggestions"),
    path("<int:plan_id>/schedules/", schedule_views.schedule_create, name="schedule_create"),
    path("<int:plan_id>/export.yaml", plan_views.plan_export, name="plan_export"),
    path("<int:plan_id>/save-template/", plan_views.plan_save_template, name="plan_save_template"),
    path("<int:plan_id>/copy/", plan_views.plan_from_template, name="plan_from_template"),
    path("<int:plan_id>/milestones/", plan_views.milestone_create, name="milestone_create"),
    path(
        "<int:plan_id>/milestones/import/",
        plan_views.milestones_import,
        name="milestones_import",
    ),
    path("milestones/<int:milestone_id>/", plan_views.milestone_edit, name="milestone_edit"),
    path("milestones/<int:milestone_id>/move/", plan_views.milestone_move, name="milestone_move"),
    path(
        "milestones/<int:milestone_id>/delete/",
        plan_views.milestone_delete,
        name="milestone_delete",
    ),
    # Maintenance windows, tasks, RACI, My tasks (issue 4 part B)
    path("<int:plan_id>/windows/new/", window_views.window_create, name="window_create"),
    path("<int:plan_id>/windows/suggest/", window_views.window_suggest, name="window_suggest"),
    path("windows/<int:window_id>/", window_views.window_detail, name="window_detail"),
    path("windows/<int:window_id>/cancel/", window_views.window_cancel, name="window_cancel"),
    path("<int:plan_id>/tasks/new/", task_views.task_create, name="task_create"),
    path("<int:plan_id>/tasks/", task_views.plan_task_rows, name="plan_task_rows"),
    path("tasks/<int:task_id>/", task_views.task_detail, name="task_detail"),
    path("tasks/<int:task_id>/delete/", task_views.task_delete, name="task_delete"),
    path("tasks/<int:task_id>/status/", task_views.task_status, name="task_status"),
    path("tasks/<int:task_id>/assign/", task_views.task_assign, name="task_assign"),
    path("checklist/<int:item_id>/toggle/", task_views.checklist_toggle, name="checklist_toggle"),
    path("my-tasks/", task_views.my_tasks, name="my_tasks"),
    path("<int:plan_id>/raci/", raci_views.raci_page, name="plan_raci"),
    path("raci/<int:planrole_id>/remove/", raci_views.planrole_remove, name="planrole_remove"),
    # Running a plan: evidence, run mode, readiness and sign-off, log, history, report (issue 5)
    *run_urlpatterns,
]
