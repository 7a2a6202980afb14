from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "recoup.core"
    label = "core"
    verbose_name = "Core"
