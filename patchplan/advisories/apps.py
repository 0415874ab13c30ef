from django.apps import AppConfig


class AdvisoriesConfig(AppConfig):
    name = "patchplan.advisories"
    label = "advisories"
    verbose_name = "Advisories"

    def ready(self) -> None:
        # servers sends the signal and never imports this app: the import
        # direction stays advisories -> servers.
        from servers.signals import inventory_imported

        from .receivers import rematch_imported_server

        inventory_imported.connect(rematch_imported_server, dispatch_uid="advisories-rematch")
