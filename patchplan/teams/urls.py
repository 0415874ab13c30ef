from django.urls import path

from . import views

urlpatterns = [
    path("", views.team_settings, name="team_settings"),
    path("switch/", views.switch_team, name="team_switch"),
    path("freezes/", views.freeze_create, name="team_freeze_create"),
    path("freezes/<int:freeze_id>/delete/", views.freeze_delete, name="team_freeze_delete"),
    path("members/", views.members, name="team_members"),
    path("members/<int:membership_id>/role/", views.member_role, name="team_member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="team_member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="team_invitation_revoke",
    ),
    path("invitations/accept/<str:token>/", views.invitation_accept, name="team_invitation_accept"),
]
