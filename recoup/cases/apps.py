from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "recoup.cases"
    label = "cases"
