from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "recoup.accounts"
    label = "accounts"
