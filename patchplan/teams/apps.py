from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "patchplan.teams"
    label = "teams"
