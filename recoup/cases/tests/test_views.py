import pytest

from recoup.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_lists_only_the_collectors_own_cases(world, client, login):
    login(world.ada)
    response = client.get("/cases/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "A0001" in body
    for other in ("B0001", "A0002", "B0002", "C0001"):
        assert other not in body


def test_it_shows_a_masked_phone_on_the_case_page_and_audits_the_view(world, client, login):
    login(world.ada)
    case = world.cases["ada_case"]
    response = client.get(f"/cases/{case.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "138****1234" in body
    assert "13812341234" not in body
    assert AuditEvent.objects.filter(
        action="cases.case.viewed", case_id=case.pk, actor=world.ada
    ).exists()
