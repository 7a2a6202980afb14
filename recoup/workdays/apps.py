from django.apps import AppConfig


class WorkdaysConfig(AppConfig):
    name = "recoup.workdays"
    label = "workdays"
