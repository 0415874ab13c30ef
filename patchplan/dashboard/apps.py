from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The top of the stack: the dashboard, the team calendar and the demo
    loader read plans, servers and notifications; nothing below imports them."""

    name = "patchplan.dashboard"
    label = "dashboard"
