"""The indexes and keys of the case and contact-point tables: each index is paid for by every
imported row and by every case an allocation commit moves (PostgreSQL rewrites the row and
adds an entry to every index), each checked key by every row that sets it."""

import pytest
from django.db import IntegrityError, connection, transaction

from recoup.cases.models import ContactPoint
from recoup.cases.services import contact_point_build
from tests.fixtures import table_indexes

pytestmark = pytest.mark.django_db


def test_the_account_blind_index_has_one_plain_index_and_no_like_index():
    # A blind index is only compared for equality (repayment files matched by account): a
    # PostgreSQL varchar_pattern_ops twin would be written for every case and never read.
    indexes = {n: sql for n, sql in table_indexes("cases_case").items() if "account_bidx" in sql}
    assert list(indexes) == ["case_account_bidx"]
    assert "pattern_ops" not in indexes["case_account_bidx"]


def test_a_contact_point_has_one_index_for_its_debtor_and_uid_and_one_for_its_number():
    # An import writes about 5.5 contact points a case: every index costs millions of
    # entries. The uid (always looked up with the debtor) shares the debtor's index.
    indexes = table_indexes("cases_contactpoint")
    indexes.pop("cases_contactpoint_pkey", None)  # PostgreSQL's; SQLite's is the rowid
    if connection.vendor == "sqlite":
        # the unique (debtor, uid) constraint's own index, named by SQLite
        assert len(indexes) == 2
        assert "contact_org_bidx" in indexes
        (auto,) = set(indexes) - {"contact_org_bidx"}
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA index_info('{auto}')")
            assert [row[2] for row in cursor.fetchall()] == ["debtor_id", "uid"]
    else:
        assert set(indexes) == {"contact_debtor_uid", "contact_org_bidx"}
        assert "(debtor_id, uid)" in indexes["contact_debtor_uid"]


def test_a_uid_twice_for_one_debtor_is_refused_and_the_first_stays(world):
    debtor = world.cases["ada_case"].debtor
    first = ContactPoint.objects.filter(debtor=debtor).first()
    assert first is not None
    again = contact_point_build(debtor=debtor, kind="phone", value="13900001111")
    again.uid = first.uid
    with pytest.raises(IntegrityError), transaction.atomic():
        again.save()
    assert ContactPoint.objects.filter(uid=first.uid).count() == 1
    assert ContactPoint.objects.get(pk=first.pk).personal_data() == first.personal_data()


def _checked_keys() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA foreign_key_list('cases_case')")
            return {row[3] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a "
            "ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
            "WHERE c.conrelid = 'cases_case'::regclass AND c.contype = 'f'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_the_allocation_s_keys_are_unchecked_and_the_case_s_origin_keys_checked():
    # An allocation commit changes assignee, team and previous assignee on every case it
    # moves; a database check each cost PostgreSQL 8 of 34 s for 1M cases (ADR 0008).
    assert _checked_keys() == {"contract_id", "debtor_id", "batch_id", "branch_id"}


def test_contact_points_in_their_default_order_are_read_without_their_debtors():
    # Ordering by "debtor" follows Debtor's own ordering through a join; by its id it does not.
    assert "cases_debtor" not in str(ContactPoint.objects.filter(debtor_id=1).query)
