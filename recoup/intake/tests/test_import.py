"""New-case imports end to end: staging, filters, switch-over, atomicity, idempotency."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from recoup.audit.models import AuditEvent
from recoup.cases.models import Case, ContactPoint, Debtor, Hold
from recoup.clients.models import Batch
from recoup.core.exceptions import PermissionDenied, RecoupError
from recoup.intake import services, switchover
from recoup.intake.models import ImportIssue, ImportJob, QuarantinedRow, StagedCase
from recoup.intake.tests.conftest import HEADERS, row
from tests.fixtures import make_id_number

pytestmark = pytest.mark.django_db


def upload(world, file, *, actor=None, name="batch.csv", contract=None, **kw):
    up = services.Upload(
        contract=contract or world.contract_a,
        kind="cases",
        file=file,
        file_name=name,
        branch=world.north,
        **kw,
    )
    return services.import_upload(upload=up, actor=actor or world.amy)


def run(world, job, actor=None):
    services.import_confirm(job=job, columns=job.columns, actor=actor or world.amy)
    return services.import_run(job_id=job.pk)


def test_a_clean_file_becomes_cases_debtors_and_contacts(world, bank_file):
    job = upload(world, bank_file([row(1), row(2), row(3)]))
    assert job.status == "draft"
    assert job.columns["身份证号"] == "id_number"
    assert job.columns["客户等级"] == "custom"
    job = run(world, job)
    assert job.status == "succeeded", job.error_message
    assert job.rows_loaded == 3
    case = Case.objects.get(contract=world.contract_a, client_case_number="N00001")
    assert case.principal == Decimal("10000.50")
    assert case.interest == Decimal("120.30")
    assert case.fees == Decimal("50.00")
    assert case.total_owed == Decimal("10170.80")
    assert case.overdue_days == 45
    assert case.stage == "M2"
    assert case.status == "pending"
    # SPEC §3 step 3: to be allocated by the end of the next working day.
    assert case.allocation_due_at is not None
    assert case.allocation_due_at > case.placed_at
    assert case.branch == world.north
    assert case.account_number() == "6225 8800 0000 0001"
    assert case.debtor.personal_data()["name"] == "王小明"
    phones = {
        c.personal_data()["value"]: c.role for c in case.debtor.contact_points.filter(kind="phone")
    }
    assert phones == {"13900000001": "debtor", "13800000002": "spouse"}
    batch = Batch.objects.get(pk=job.batch_id)
    assert batch.status == "imported"
    assert batch.case_count == 3
    assert batch.imported_at is not None
    assert AuditEvent.objects.filter(action="intake.job.succeeded", object_id=str(job.pk)).exists()
    assert not StagedCase.objects.filter(job=job).exists()


def test_emptying_the_staging_keeps_the_connections_secure_delete_setting(world, bank_file):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete = 1")
        job = run(world, upload(world, bank_file([row(1), row(2)])))
        assert job.status == "succeeded", job.error_message
        assert not StagedCase.objects.exists()
        cursor.execute("PRAGMA secure_delete")
        assert cursor.fetchone()[0] == 1  # FAST only while the staging rows were deleted


def test_an_import_leaves_fresh_planner_statistics_for_the_tables_it_grew(world, bank_file):
    from django.db import connection

    job = run(world, upload(world, bank_file([row(1), row(2)])))
    assert job.status == "succeeded", job.error_message
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT DISTINCT tbl FROM main.sqlite_stat1")
        else:
            cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
        analysed = {name for (name,) in cursor.fetchall()}
    # (an empty table, here the holds, has no statistics to keep)
    assert {"cases_debtor", "cases_case", "cases_contactpoint"} <= analysed


def test_the_same_person_on_two_rows_is_one_debtor(world, bank_file):
    job = run(world, upload(world, bank_file([row(1, serial=7), row(2, serial=7)])))
    debtors = Debtor.objects.filter(cases__batch_id=job.batch_id).distinct()
    assert debtors.count() == 1
    # Their shared phone is stored once, not once per row.
    assert debtors[0].contact_points.filter(kind="phone", role="debtor").count() == 1


def test_a_person_s_debtor_comes_from_their_first_loadable_row(world, bank_file):
    # Rows 1 (a negative amount) and 3 (repeats row 2's case number) name the same person as
    # row 4 but load nothing: the debtor is created from row 4, the first row that loads.
    repeat = row(2, serial=7, name="重复行")
    job = run(
        world,
        upload(
            world,
            bank_file(
                [
                    row(1, serial=7, name="无效行", principal="-5"),
                    row(2, serial=8, name="他人"),
                    repeat,
                    row(4, serial=7, name="第四行"),
                ]
            ),
        ),
    )
    assert job.status == "succeeded", job.error_message
    assert (job.rows_invalid, job.rows_duplicate, job.rows_loaded) == (1, 1, 2)
    case = Case.objects.get(batch_id=job.batch_id, client_case_number="N00004")
    assert case.debtor.personal_data()["name"] == "第四行"
    assert Debtor.objects.filter(cases__batch_id=job.batch_id).distinct().count() == 2
    # The row that created the debtor brought its contact points with it.
    assert case.debtor.contact_points.filter(kind="phone", role="debtor").count() == 1


def test_every_case_keeps_its_own_extra_columns_readable(world, bank_file):
    # The bench's "客户等级" column is not a Recoup field: it is kept, sealed, per case. The
    # second row of a person did not create the debtor; its record must be readable too.
    first, second = row(1, serial=7), row(2, serial=7)
    second[-1] = "普通"
    job = run(world, upload(world, bank_file([first, second, row(3)])))
    assert job.status == "succeeded", job.error_message
    cases = Case.objects.filter(batch_id=job.batch_id).order_by("client_case_number")
    assert [c.custom_fields() for c in cases] == [
        {"客户等级": "VIP"},
        {"客户等级": "普通"},
        {"客户等级": "VIP"},
    ]


def test_a_number_repeated_within_a_row_is_one_contact_point(world, bank_file):
    from recoup.intake.tests.conftest import HEADERS

    headers = [*HEADERS, "住宅电话"]
    rows = [[*row(1), "139 0000 0001"]]  # the home phone repeats the mobile
    job = run(world, upload(world, bank_file(rows, headers=headers)))
    assert job.status == "succeeded", job.error_message
    debtor = Case.objects.get(batch_id=job.batch_id).debtor
    phones = [
        (c.role, c.personal_data()["value"]) for c in debtor.contact_points.filter(kind="phone")
    ]
    assert sorted(phones) == [("debtor", "13900000001"), ("spouse", "13800000002")]


def test_a_known_debtor_gains_only_the_numbers_not_stored_yet(world, bank_file):
    first = run(world, upload(world, bank_file([row(1, serial=7)]), name="a.csv"))
    assert first.status == "succeeded", first.error_message
    debtor = Case.objects.get(batch_id=first.batch_id).debtor
    before = set(debtor.contact_points.values_list("pk", flat=True))
    # A later batch: the same person, the same spouse's phone, a new own mobile, twice.
    rows = [row(2, serial=7, phone="13700000009"), row(3, serial=7, phone="13700000009")]
    second = run(world, upload(world, bank_file(rows), name="b.csv"))
    assert second.status == "succeeded", second.error_message
    assert Case.objects.filter(batch_id=second.batch_id, debtor=debtor).count() == 2
    added = debtor.contact_points.exclude(pk__in=before)
    phones = [(c.role, c.personal_data()["value"]) for c in added.filter(kind="phone")]
    assert phones == [("debtor", "13700000009")]


def test_a_person_known_from_another_client_is_linked_not_duplicated(world, bank_file):
    known = world.cases["ben_case"].debtor  # serial 2 at bank_b
    job = run(world, upload(world, bank_file([row(1, id_number=make_id_number(2))])))
    case = Case.objects.get(batch_id=job.batch_id)
    assert case.debtor_id == known.pk
    assert Debtor.objects.filter(pk=known.pk).count() == 1


def test_bad_rows_are_reported_masked_and_quarantined_while_good_rows_load(world, bank_file):
    rows = [
        row(1),
        row(2, id_number="110105199001010011"),  # bad check digit
        row(3, principal="-5"),
        row(4, days="abc"),
        row(5, phone="12"),  # a bad own phone: an error (mobile is a hard field)
    ]
    job = run(world, upload(world, bank_file(rows)))
    assert job.status == "succeeded"
    assert job.rows_loaded == 1
    assert job.rows_invalid == 4
    codes = {(i.row_number, i.code) for i in ImportIssue.objects.filter(job=job)}
    assert (3, "id_checksum") in codes
    assert (4, "amount_negative") in codes
    assert (5, "integer_invalid") in codes or (5, "overdue_days_invalid") in codes
    assert (6, "phone_invalid") in codes
    bad_id = ImportIssue.objects.get(job=job, code="id_checksum")
    assert "110105199001010011" not in bad_id.value_masked
    assert QuarantinedRow.objects.filter(job=job).count() == 4


def test_duplicates_existing_cases_and_the_stop_list(world, bank_file):
    services.stop_list_add(
        id_number=make_id_number(103, "19900101"), reason="deceased", actor=world.rick
    )
    rows = [row(1), row(1), row(3), [*row(9)[:0], "A0001", *row(9)[1:]]]
    job = run(world, upload(world, bank_file(rows)))
    assert job.status == "succeeded"
    assert job.rows_duplicate == 1
    assert job.rows_existing == 1
    assert job.rows_held == 1
    held = Case.objects.get(batch_id=job.batch_id, client_case_number="N00003")
    hold = Hold.objects.get(case=held)
    assert hold.reason == "stop_list"
    assert hold.note == "deceased"
    codes = {i.code for i in ImportIssue.objects.filter(job=job)}
    assert {"duplicate_in_file", "case_exists", "stop_listed"} <= codes


def test_the_same_file_twice_creates_nothing_and_names_the_batch(world, bank_file):
    job = run(world, upload(world, bank_file([row(1)])))
    batch = Batch.objects.get(pk=job.batch_id)
    with pytest.raises(services.DuplicateFile, match=batch.reference):
        upload(world, bank_file([row(1)]))
    assert Case.objects.filter(client_case_number="N00001").count() == 1


def test_a_failure_in_the_switch_over_leaves_nothing_and_a_retry_succeeds(
    world, bank_file, monkeypatch
):
    before = (Case.objects.count(), Debtor.objects.count(), ContactPoint.objects.count())
    real = switchover.switch_over

    def half_then_crash(job, **kw):
        real(job, **kw)  # everything inserted…
        raise RuntimeError("database connection lost")  # …then the connection dies

    monkeypatch.setattr(switchover, "switch_over", half_then_crash)
    job = run(world, upload(world, bank_file([row(1), row(2)])))
    assert job.status == "failed"
    assert "RuntimeError" in job.error_message
    assert (Case.objects.count(), Debtor.objects.count(), ContactPoint.objects.count()) == before
    assert not StagedCase.objects.filter(job=job).exists()
    monkeypatch.setattr(switchover, "switch_over", real)
    services.import_retry(job=job, actor=world.amy)
    job = services.import_run(job_id=job.pk)
    assert job.status == "succeeded"
    assert job.rows_loaded == 2
    assert job.attempts == 2


def test_a_failure_while_staging_leaves_nothing(world, bank_file, monkeypatch):
    from recoup.intake import pipeline

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "_seal_rows", boom)
    before = Case.objects.count()
    job = run(world, upload(world, bank_file([row(1)])))
    assert job.status == "failed"
    assert Case.objects.count() == before


def test_the_reject_policy_loads_nothing_when_a_row_is_bad(world, bank_file):
    world.contract_a.import_error_policy = "reject"
    world.contract_a.save(update_fields=["import_error_policy"])
    job = run(world, upload(world, bank_file([row(1), row(2, principal="oops")])))
    assert job.status == "rejected"
    assert not Case.objects.filter(batch_id=job.batch_id).exists()
    assert ImportIssue.objects.filter(job=job, code="amount_invalid").exists()


def test_quarantined_rows_can_be_corrected_and_resubmitted_into_the_same_batch(world, bank_file):
    job = run(world, upload(world, bank_file([row(1), row(2, principal="oops")])))
    assert QuarantinedRow.objects.filter(job=job, resolved_by__isnull=True).count() == 1
    fixed = upload(world, bank_file([row(2)]), name="fixed.csv", resubmission_of=job)
    fixed = run(world, fixed)
    assert fixed.status == "succeeded"
    assert fixed.batch_id == job.batch_id
    assert Case.objects.filter(batch_id=job.batch_id).count() == 2
    assert not QuarantinedRow.objects.filter(job=job, resolved_by__isnull=True).exists()
    assert Batch.objects.get(pk=job.batch_id).case_count == 2


def test_a_missing_required_column_blocks_the_import_with_a_reason(world, bank_file):
    headers = ["案件编号", "客户姓名", "卡号", "本金", "逾期天数"]
    job = upload(world, bank_file([["N1", "王五", "6225", "100", "5"]], headers=headers))
    with pytest.raises(services.MappingProblems) as err:
        services.import_confirm(job=job, columns=job.columns, actor=world.amy)
    assert any("证件号码" in p for p in err.value.problems)
    assert ImportJob.objects.get(pk=job.pk).status == "draft"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        ("案件编号,客户姓名\n".encode(), "header_only"),
        (bytes(range(256)) * 40, "not_a_table"),
        ("案件编号,客户姓名,案件编号\nN1,王,N2\n".encode(), "duplicate_headers"),
    ],
)
def test_unreadable_files_are_refused_and_nothing_is_stored(world, content, code):

    batches = Batch.objects.count()
    with pytest.raises(RecoupError) as err:
        upload(world, io.BytesIO(content))
    assert err.value.code == code
    assert err.value.message
    assert Batch.objects.count() == batches
    assert not ImportJob.objects.exists()


def test_gbk_files_are_detected(world, bank_file):
    job = upload(world, bank_file([row(1)], encoding="gb18030"))
    assert job.encoding == "gb18030"
    job = run(world, job)
    assert job.status == "succeeded"
    assert Case.objects.get(batch_id=job.batch_id).debtor.personal_data()["name"] == "王小明"


def test_only_importers_may_upload(world, bank_file):
    with pytest.raises(PermissionDenied):
        upload(world, bank_file([row(1)]), actor=world.ada)


def test_a_client_user_may_push_only_to_their_own_contracts(world, bank_file):
    job = upload(world, bank_file([row(1)]), actor=world.cli)  # bank_a's user, bank_a's contract
    assert job.created_by == world.cli
    with pytest.raises(PermissionDenied):
        upload(world, bank_file([row(2)]), actor=world.cli, contract=world.contract_b)


def test_blank_optional_cells_are_absent_not_errors(world, bank_file):
    sparse = row(1)
    sparse[5] = ""  # interest
    sparse[6] = "-"  # fees, Excel's accounting zero
    sparse[9] = ""  # home address
    sparse[11], sparse[12], sparse[13] = "", "", "无"  # no third party
    job = run(world, upload(world, bank_file([sparse])))
    assert job.status == "succeeded"
    assert job.rows_loaded == 1
    assert not ImportIssue.objects.filter(job=job).exists()
    case = Case.objects.get(batch_id=job.batch_id)
    assert case.total_owed == case.principal


def test_an_xlsx_file_imports_like_a_csv(world, tmp_path):
    from openpyxl import Workbook

    from recoup.intake.tests.conftest import HEADERS

    wb = Workbook()
    ws = wb.active
    ws.title = "委案清单"
    ws.append(HEADERS)
    for n in (1, 2):
        values = row(n)
        values[4] = 10000.5  # numbers as numbers, as Excel stores them
        values[7] = 45
        ws.append(values)
    path = tmp_path / "bank.xlsx"
    wb.save(path)
    with path.open("rb") as fh:
        job = upload(world, fh, name="bank.xlsx")
    job = run(world, job)
    assert job.status == "succeeded", job.error_message
    case = Case.objects.get(batch_id=job.batch_id, client_case_number="N00001")
    assert case.principal == Decimal("10000.50")
    assert case.overdue_days == 45


def test_overdue_since_today_is_not_in_the_future_just_after_midnight_in_china(world, bank_file):
    headers = [h if h != "逾期天数" else "逾期日期" for h in HEADERS]
    line = row(1)
    line[headers.index("逾期日期")] = "2026-11-24"
    just_after_midnight = datetime(2026, 11, 24, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(just_after_midnight, tick=False):
        job = run(world, upload(world, bank_file([line], headers=headers)))
    assert job.status == "succeeded", job.error_message
    assert job.rows_invalid == 0
    assert Case.objects.get(client_case_number="N00001").overdue_days == 0


def _sqlite_index_sql(name: str) -> str:
    """The DDL of SQLite index ``name`` ("n/a" on PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return "n/a"
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [name])
        return cursor.fetchone()[0]


def test_the_contact_blind_index_is_rebuilt_whole_after_a_large_first_file(world, bank_file):
    """On SQLite a file bringing more contact points than are stored rebuilds the random
    (organisation, blind index) index once, and it is there afterwards, the same."""
    before = _sqlite_index_sql("contact_org_bidx")
    ContactPoint.objects.all().delete()  # the file's contact points outnumber the stored ones
    job = run(world, upload(world, bank_file([row(n, serial=500 + n) for n in range(1, 6)])))
    assert job.status == "succeeded", job.error_message
    assert _sqlite_index_sql("contact_org_bidx") == before
    assert ContactPoint.objects.filter(organisation=world.org).count() >= 10


def test_a_file_with_more_rows_than_debtors_rebuilds_the_name_index_and_names_still_match(
    world, bank_file, monkeypatch
):
    """On SQLite a file with more rows than there are debtors builds the debtors' random name
    index once, after their insert; afterwards it is there, the same, and finds them."""
    from django.db import connection

    from recoup.cases import pii
    from recoup.core import db

    rebuilt: list[tuple[str, bool]] = []
    original = db.sqlite_indexes_rebuilt

    def spy(table, names, *, when):
        rebuilt.append((table, when))
        return original(table, names, when=when)

    monkeypatch.setattr(switchover, "sqlite_indexes_rebuilt", spy)
    before = _sqlite_index_sql("debtor_org_name")
    stored = Debtor.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rows = [row(n, serial=600 + n, name=f"李{n}") for n in range(1, stored + 3)]

    job = run(world, upload(world, bank_file(rows)))

    assert job.status == "succeeded", job.error_message
    assert ("cases_debtor", connection.vendor == "sqlite") in rebuilt
    assert _sqlite_index_sql("debtor_org_name") == before
    found = Debtor.objects.for_org(world.org).filter(name_bidx=pii.name_bidx("李2"))
    assert found.count() == 1


def test_quarantined_rows_stay_readable_after_a_key_rotation(world, bank_file):
    from recoup.core import crypto
    from tests.fixtures import data_key_rotated

    job = run(world, upload(world, bank_file([row(1), row(2, principal="-5")])))
    assert job.status == "succeeded", job.error_message
    kept = QuarantinedRow.objects.get(job=job)
    with data_key_rotated() as key_id:
        fresh = QuarantinedRow.objects.get(pk=kept.pk)
        assert crypto.key_id_of(bytes(fresh.sealed)) == key_id
        assert crypto.unseal_json(bytes(fresh.sealed), aad=fresh.aad())["本金"] == "-5"
