from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "patchplan.accounts"
    label = "accounts"
