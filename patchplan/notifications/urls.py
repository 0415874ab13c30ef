from django.urls import path

from . import views

urlpatterns = [
    path("", views.notification_list, name="notification_list"),
    path("bell/", views.notification_bell, name="notification_bell"),
    path("read/", views.notification_mark_read, name="notification_mark_read"),
    path("<int:notification_id>/", views.notification_open, name="notification_open"),
    path("preferences/", views.notification_preferences, name="notification_preferences"),
    path(
        "preferences/calendar/reset/",
        views.calendar_token_reset,
        name="notification_calendar_token_reset",
    ),
    path("team-feed/reset/", views.team_feed_reset, name="notification_team_feed_reset"),
    path("failed/", views.failed_list, name="notification_failed_list"),
    path(
        "failed/<int:notification_id>/retry/",
        views.failed_retry,
        name="notification_failed_retry",
    ),
]
