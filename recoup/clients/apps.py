from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "recoup.clients"
    label = "clients"
