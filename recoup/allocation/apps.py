from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "recoup.allocation"
    label = "allocation"

    def ready(self) -> None:
        from recoup.allocation.history import allocation_history
        from recoup.cases.history import register_history_provider

        register_history_provider(allocation_history)
