from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "patchplan.core"
    label = "core"
