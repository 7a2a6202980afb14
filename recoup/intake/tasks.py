"""Background tasks of the intake (Django tasks; the database backend runs them in
``manage.py db_worker``)."""

from __future__ import annotations

from django.tasks import task

from recoup.intake.services import import_run


@task()
def run_import(job_id: int) -> None:
    import_run(job_id=job_id)
