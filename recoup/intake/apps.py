from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "recoup.intake"
    label = "intake"
