from django.urls import path

from . import views

urlpatterns = [
    path("", views.server_list, name="server_list"),
    path("new/", views.server_create, name="server_create"),
    path("bulk/", views.server_bulk, name="server_bulk"),
    path("import/", views.server_csv_import, name="server_csv_import"),
    path("fleet/", views.fleet_search, name="server_fleet_search"),
    path("fleet/updates/", views.fleet_updates, name="server_fleet_updates"),
    path("tokens/", views.token_list, name="team_api_tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="team_api_token_revoke"),
    path("<int:server_id>/", views.server_detail, name="server_detail"),
    path("<int:server_id>/edit/", views.server_edit, name="server_edit"),
    path("<int:server_id>/delete/", views.server_delete, name="server_delete"),
    path("<int:server_id>/inventory/", views.server_import, name="server_import"),
    path("<int:server_id>/diff/", views.server_diff, name="server_diff"),
]
