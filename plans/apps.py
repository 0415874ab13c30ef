from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"

    def ready(self) -> None:
        from django.db import connections
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from plans import history_guard, receivers

        receivers.connect()

        post_migrate.connect(history_guard.on_post_migrate, sender=self)
        connection_created.connect(history_guard.on_connection_created)
        for conn in connections.all(initialized_only=False):
            history_guard.on_connection_created(sender=None, connection=conn)
