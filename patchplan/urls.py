from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from patchplan.core import views as core_views
from patchplan.dashboard import views as dashboard_views
from plans.notify import views as notify_views

urlpatterns = [
    path("", dashboard_views.dashboard, name="dashboard"),
    path("healthz", core_views.healthz, name="healthz"),
    path("calendar/", dashboard_views.calendar, name="calendar"),
    path("dashboard/activity/", dashboard_views.dashboard_activity, name="dashboard_activity"),
    path("accounts/", include("patchplan.accounts.urls")),
    path("team/", include("patchplan.teams.urls")),
    path("servers/", include("servers.urls")),
    path("api/v1/", include("servers.api_urls")),
    path("plans/", include("plans.urls")),
    # The calendar feeds are the plans app's; their URLs stay under
    # notifications/, where people's calendar apps subscribed to them.
    path(
        "notifications/feed/<str:token>.ics", notify_views.feed_user, name="notification_feed_user"
    ),
    path(
        "notifications/team-feed/<str:token>.ics",
        notify_views.feed_team,
        name="notification_feed_team",
    ),
    path("notifications/", include("patchplan.notifications.urls")),
    path("reports/", include("patchplan.reports.urls")),
    path("vulnerabilities/", include("patchplan.advisories.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler400 = "patchplan.core.views.bad_request"
handler403 = "patchplan.core.views.permission_denied"
handler404 = "patchplan.core.views.page_not_found"
handler500 = "patchplan.core.views.server_error"
