from django.urls import path

from . import views

urlpatterns = [
    path("", views.vulnerability_list, name="vulnerability_list"),
    path("sources/", views.advisory_sources, name="advisory_sources"),
    path("targets/", views.remediation_targets_edit, name="remediation_targets"),
    path("dashboard-card/", views.remediation_card, name="remediation_card"),
    path("server/<int:server_id>/", views.server_vulnerabilities, name="server_vulnerabilities"),
    path(
        "plan-fix/", views.vulnerability_selection_plan_fix, name="vulnerability_selection_plan_fix"
    ),
    path("<str:ident>/", views.vulnerability_detail, name="vulnerability_detail"),
    path("<str:ident>/plan/", views.vulnerability_plan_fix, name="vulnerability_plan_fix"),
]
