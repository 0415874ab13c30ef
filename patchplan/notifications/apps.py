from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "patchplan.notifications"
    label = "notifications"
