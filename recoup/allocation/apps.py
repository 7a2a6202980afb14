from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "recoup.allocation"
    label = "allocation"
