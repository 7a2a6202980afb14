"""A large file is staged by two processes (recoup.intake.parallel): the same result as one,
and a failure on either side leaves nothing loaded, no helper running and a clean retry.

The two-process tests need a server database: the test database on SQLite lives in memory,
where a second process cannot see it (the PostgreSQL leg of CI runs them). The rules that
decide and divide the work run everywhere.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import time
from typing import Any

import pytest
from django.db import connection

from recoup.cases.models import Case, ContactPoint, Debtor
from recoup.intake import parallel, services, stage_helper
from recoup.intake.models import ImportIssue, ImportJob, QuarantinedRow, StagedCase, StagedContact
from recoup.intake.pipeline import Counters
from recoup.intake.readers import ReadError
from recoup.intake.tests import parallel_helpers
from recoup.intake.tests.conftest import row

ROWS = 120
BATCH = 15  # 8 batches


def upload(world: Any, file: Any) -> ImportJob:
    up = services.Upload(
        contract=world.contract_a,
        kind="cases",
        file=file,
        file_name="large.csv",
        branch=world.north,
    )
    job = services.import_upload(upload=up, actor=world.amy)
    return services.import_confirm(job=job, columns=job.columns, actor=world.amy)


def bank_rows() -> list[list[str]]:
    rows = [row(n) for n in range(1, ROWS + 1)]
    rows[6] = row(7, id_number="110101199001011230")  # bad check digit: quarantined
    rows[40] = row(3)  # a repeat of row 3's case: a duplicate
    return rows


@pytest.fixture
def two_processes(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files go to two processes, and this process waits at batch 1 until the helper
    has taken it, so the helper really stages a share however slowly it starts."""
    if connection.vendor == "sqlite":
        pytest.skip("needs a server database: the PostgreSQL leg of CI runs it")
    monkeypatch.setattr(parallel, "MIN_ROWS", 10)
    monkeypatch.setattr(parallel, "SHARED_BATCH_ROWS", BATCH)
    real = parallel.claimer

    def patient(next_free: Any) -> Any:
        claim = real(next_free)

        def wait_then_claim(index: int) -> bool:
            if index == 1:
                deadline = time.monotonic() + 120
                while next_free.value < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
            return claim(index)

        return wait_then_claim

    monkeypatch.setattr(parallel, "claimer", patient)


def import_with_helper(world: Any, bank_file: Any, monkeypatch: Any, stand_in: Any) -> ImportJob:
    """Import the large file with ``stand_in`` as the helper process's body."""
    monkeypatch.setattr(stage_helper, "main", stand_in)
    job = upload(world, bank_file(bank_rows()))
    return services.import_run(job_id=job.pk)


def no_helper_left() -> bool:
    return not [p for p in multiprocessing.active_children() if p.name.startswith("recoup-")]


def nothing_loaded(job: ImportJob) -> bool:
    return (
        not Case.objects.filter(batch_id=job.batch_id).exists()
        and not StagedCase.objects.filter(job=job).exists()
        and not StagedContact.objects.filter(job=job).exists()
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("two_processes")
def test_two_processes_load_what_one_would(world, bank_file, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="recoup.intake.parallel")
    shown: list[int] = []
    real_progress = services._progress

    def recorded(job: ImportJob) -> Any:
        save = real_progress(job)

        def both(counters: Counters) -> None:
            shown.append(counters.read)
            save(counters)  # type: ignore[operator]

        return both

    monkeypatch.setattr(services, "_progress", recorded)
    job = upload(world, bank_file(bank_rows()))
    job = services.import_run(job_id=job.pk)
    # The progress bar counts both processes' rows, and never goes back.
    assert shown == sorted(shown)
    assert shown[-1] == ROWS
    assert job.status == "succeeded", job.error_message
    assert (job.rows_read, job.rows_invalid, job.rows_duplicate) == (ROWS, 1, 1)
    assert job.rows_loaded == ROWS - 2
    numbers = set(
        Case.objects.filter(batch_id=job.batch_id).values_list("client_case_number", flat=True)
    )
    # Row 7 is quarantined; row 41 was replaced by a repeat of row 3.
    assert numbers == {f"N{n:05d}" for n in range(1, ROWS + 1)} - {"N00007", "N00041"}
    # Each row brings the debtor's mobile, home address, employer and spouse's phone.
    debtors = Debtor.objects.filter(cases__batch_id=job.batch_id).distinct()
    assert debtors.count() == ROWS - 2
    assert ContactPoint.objects.filter(debtor__in=debtors).count() == 3 * (ROWS - 2)
    case = Case.objects.get(batch_id=job.batch_id, client_case_number="N00100")
    assert case.account_number() == "6225 8800 0000 0100"
    assert case.debtor.personal_data()["name"] == "王小明"
    assert QuarantinedRow.objects.filter(job=job).count() == 1
    assert ImportIssue.objects.filter(job=job, severity="error").count() == 2
    assert not StagedCase.objects.exists()
    assert no_helper_left()
    shares = [r.getMessage() for r in caplog.records if "in the helper process" in r.getMessage()]
    assert len(shares) == 1
    here, there = (int(w) for w in shares[0].split() if w.isdigit())
    assert here + there == ROWS
    assert there >= BATCH  # the helper staged at least the batch this process waited for


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("two_processes")
def test_a_failing_helper_fails_the_import_whole_and_a_retry_succeeds(
    world, bank_file, monkeypatch
):
    job = import_with_helper(world, bank_file, monkeypatch, parallel_helpers.fails_after_one_batch)
    assert job.status == "failed"
    assert job.error_code == "internal"
    assert "HelperFailed" in job.error_message
    assert nothing_loaded(job)
    assert no_helper_left()
    monkeypatch.undo()  # the real helper, ordinary batch sizes: one process
    services.import_retry(job=job, actor=world.amy)
    job = services.import_run(job_id=job.pk)
    assert job.status == "succeeded", job.error_message
    assert job.rows_loaded == ROWS - 2
    assert job.attempts == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("two_processes")
def test_a_file_the_helper_cannot_read_fails_with_the_reason(world, bank_file, monkeypatch):
    job = import_with_helper(world, bank_file, monkeypatch, parallel_helpers.cannot_read)
    assert job.status == "failed"
    assert job.error_code == "too_many_rows"
    assert "10" in job.error_message
    assert nothing_loaded(job)
    assert no_helper_left()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("two_processes")
def test_a_helper_that_vanishes_fails_the_import(world, bank_file, monkeypatch):
    job = import_with_helper(world, bank_file, monkeypatch, parallel_helpers.vanishes)
    assert job.status == "failed"
    assert "HelperFailed" in job.error_message
    assert nothing_loaded(job)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("two_processes")
def test_a_failure_here_stops_the_helper_before_staging_is_cleared(world, bank_file, monkeypatch):
    from recoup.intake import pipeline

    real = pipeline._seal_rows
    calls: list[int] = []

    def twice_then_fail(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_seal_rows", twice_then_fail)
    job = upload(world, bank_file(bank_rows()))
    job = services.import_run(job_id=job.pk)
    assert job.status == "failed"
    assert no_helper_left()
    time.sleep(1)  # a helper still running would stage more rows meanwhile
    assert nothing_loaded(job)


# The rules, on any database.


def test_small_files_and_transactions_are_staged_by_one_process(settings, monkeypatch):
    monkeypatch.setattr(parallel, "MIN_ROWS", 100)
    assert parallel.processes_for(99) == 1
    settings.RECOUP_IMPORT_PROCESSES = 1
    assert parallel.processes_for(10_000) == 1


@pytest.mark.django_db
def test_an_import_inside_a_transaction_stays_in_one_process():
    assert connection.in_atomic_block
    assert parallel.processes_for(10**6) == 1


@pytest.mark.django_db(transaction=True)
def test_the_in_memory_test_database_stays_in_one_process():
    if connection.vendor != "sqlite":
        assert parallel.processes_for(10**6) == 2
    else:
        assert parallel.processes_for(10**6) == 1


@pytest.mark.parametrize("seed", range(20))
def test_every_batch_is_claimed_by_exactly_one_walker(seed):
    """Two processes walk the same batches in order at their own pace: whatever the
    interleaving, each batch is taken once."""
    rng = random.Random(seed)
    next_free = multiprocessing.get_context("spawn").Value("q", 0)
    claims = [parallel.claimer(next_free), parallel.claimer(next_free)]
    at = [0, 0]
    taken: dict[int, int] = {}
    batches = 30
    while min(at) < batches:
        who = rng.choice([w for w in (0, 1) if at[w] < batches])
        if claims[who](at[who]):
            assert at[who] not in taken
            taken[at[who]] = who
        at[who] += 1
    assert sorted(taken) == list(range(batches))


def test_helper_messages_become_the_errors_they_report():
    ours, theirs = multiprocessing.Pipe(duplex=False)
    state = parallel._HelperState()
    theirs.send(("batch", (10, 8, 2, 1)))
    state.drain(ours)
    assert state.counters == Counters(10, 8, 2, 1)
    assert not state.done
    theirs.send(("read_error", "too_many_rows", {"limit": "5"}))
    with pytest.raises(ReadError) as read_error:
        state.drain(ours)
    assert read_error.value.code == "too_many_rows"
    assert "5" in read_error.value.message()
    theirs.send(("error", "OSError in the import's helper process: disk full"))
    with pytest.raises(parallel.HelperFailed, match="disk full"):
        state.drain(ours)
    theirs.send(("done", (20, 16, 4, 2)))
    state.drain(ours)
    assert state.done
    assert state.counters == Counters(20, 16, 4, 2)


def test_an_orphaned_helper_exits_at_once():
    ctx = multiprocessing.get_context("spawn")
    orphan = ctx.Process(target=stage_helper.die_with_parent, args=(1,))  # not its parent
    orphan.start()
    orphan.join(60)
    assert orphan.exitcode == 1
