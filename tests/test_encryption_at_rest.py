"""Read the raw database after seeding the demo: no plaintext ID number or phone anywhere."""

import pytest
from django.db import connection

from recoup.cases.models import ContactPoint, Debtor
from recoup.demo.services import demo_seed

pytestmark = pytest.mark.django_db


def _all_text_in_database() -> str:
    """Every column of every table, as the database returns it (bytes decoded leniently)."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (introspected names)
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes):
                        chunks.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        chunks.append(str(value))
    return "\n".join(chunks)


def test_no_plaintext_id_number_phone_or_name_of_demo_debtors_is_stored():
    demo_seed(cases=300, seed=7)
    debtors = list(Debtor.objects.all()[:300])
    id_numbers = [d.personal_data()["id_number"] for d in debtors]
    names = [d.personal_data()["name"] for d in debtors]
    phones = [c.personal_data()["value"] for c in ContactPoint.objects.filter(kind="phone")[:500]]
    assert len(id_numbers) > 200
    assert len(phones) > 200
    raw = _all_text_in_database()
    assert [x for x in id_numbers if x in raw] == []
    assert [x for x in phones if x in raw] == []
    # Names are short: check the 3-character ones, which cannot occur by accident.
    assert [x for x in names if len(x) >= 3 and x in raw] == []
