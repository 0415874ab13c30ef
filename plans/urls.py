from django.urls import path

from .views import plans as plan_views

urlpatterns = [
    path("", plan_views.plan_list, name="plan_list"),
    path("<int:plan_id>/", plan_views.plan_detail, name="plan_detail"),
]
