from typing import Any

from django.core.management.base import BaseCommand

from recoup.core.db import refresh_planner_statistics


class Command(BaseCommand):
    help = "Refresh the query planner's statistics (run after bulk loads, and nightly)."

    def handle(self, *args: Any, **options: Any) -> None:
        refresh_planner_statistics()
        self.stdout.write("planner statistics refreshed")
