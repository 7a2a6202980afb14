from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "recoup.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from recoup.core.sqlite_wal import on_connection_created

        connection_created.connect(on_connection_created, dispatch_uid="recoup-sqlite-wal")
