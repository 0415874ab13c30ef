from django.urls import path

from . import views

urlpatterns = [
    path("", views.report_index, name="reports_index"),
    path("posture/", views.posture, name="report_posture"),
    path("plans/", views.plans, name="report_workflow"),
    path("downtime/", views.downtime, name="report_downtime"),
]
