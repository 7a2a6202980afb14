from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "recoup.web"
    label = "web"
