from django.urls import path

from . import views

urlpatterns = [
    path("", views.server_list, name="server_list"),
    path("<int:server_id>/", views.server_detail, name="server_detail"),
]
