from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patchplan.core"
    label = "core"

    def ready(self) -> None:
        from django.contrib import admin

        from . import security_log  # noqa: F401 - connects the signal receivers

        # The admin site is for superusers only: staff flags alone open nothing.
        admin.site.has_permission = lambda request: (
            request.user.is_active and request.user.is_superuser
        )
