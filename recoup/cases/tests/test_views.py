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


def test_searching_by_phone_id_number_name_and_case_number(world, client, login):
    from tests.fixtures import make_id_number

    login(world.sue)
    for q in ("+86 138-1234-1234", make_id_number(1), "张三丰", "A0001"):
        body = client.get("/cases/", {"q": q}).content.decode()
        assert "A0001" in body, q
        assert "B0001" not in body, q
    # The search text never lands in the audit log (it may be a phone or ID number).
    assert not AuditEvent.objects.filter(data__icontains="13812341234").exists()


def test_filters_narrow_the_list(world, client, login):
    login(world.hal)
    body = client.get("/cases/", {"client": world.bank_b.pk}).content.decode()
    assert "B0001" in body
    assert "A0001" not in body
    body = client.get("/cases/", {"status": "new"}).content.decode()
    assert "B0002" in body
    assert "A0001" not in body


def test_htmx_requests_get_only_the_table_fragment(world, client, login):
    login(world.ada)
    response = client.get("/cases/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="case-table"' in body
    assert "<html" not in body


def test_another_persons_case_is_a_404_page(world, client, login):
    login(world.ada)
    response = client.get(f"/cases/{world.cases['ben_case'].pk}/")
    assert response.status_code == 404
    assert "页面或案件不存在" in response.content.decode()
    assert client.get("/cases/999999/").status_code == 404


def test_unmasking_a_phone_returns_the_fragment_and_is_audited(world, client, login):
    login(world.ada)
    case = world.cases["ada_case"]
    phone = case.debtor.contact_points.get(kind="phone")
    response = client.post(f"/cases/{case.pk}/contacts/{phone.pk}/unmask/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "13812341234" in response.content.decode()
    assert AuditEvent.objects.filter(action="cases.contact.unmasked", actor=world.ada).exists()
    assert client.get(f"/cases/{case.pk}/contacts/{phone.pk}/unmask/").status_code == 405


def test_a_supervisor_puts_a_case_on_hold_from_the_page(world, client, login):
    from recoup.cases.models import Hold

    login(world.sue)
    case = world.cases["ada_case"]
    response = client.post(
        f"/cases/{case.pk}/holds/", {"reason": "complaint", "note": "投诉处理中"}
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="hold-badge"' in page
    hold = Hold.objects.get(case=case)
    client.post(f"/cases/{case.pk}/holds/{hold.pk}/release/")
    hold.refresh_from_db()
    assert hold.released_at is not None


def test_a_bad_hold_form_shows_errors_and_stores_nothing(world, client, login):
    from recoup.cases.models import Hold

    login(world.sue)
    case = world.cases["ada_case"]
    response = client.post(f"/cases/{case.pk}/holds/", {"reason": "bored"})
    assert response.status_code == 400
    assert not Hold.objects.filter(case=case).exists()


def test_a_collector_cannot_hold(world, client, login):
    from recoup.cases.models import Hold

    login(world.ada)
    case = world.cases["ada_case"]
    assert client.post(f"/cases/{case.pk}/holds/", {"reason": "complaint"}).status_code == 403
    assert not Hold.objects.filter(case=case).exists()


def test_the_case_page_shows_history_from_the_audit_log(world, client, login):
    login(world.ada)
    case = world.cases["ada_case"]
    client.get(f"/cases/{case.pk}/")
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert "cases.case.viewed" in body
    assert "cases.case.opened" in body


def test_the_case_list_runs_a_bounded_number_of_queries(
    world, client, login, django_assert_max_num_queries
):
    login(world.hal)
    with django_assert_max_num_queries(20):
        client.get("/cases/")


def test_amounts_are_grouped_by_thousands(world, client, login):
    login(world.ada)
    body = client.get(f"/cases/{world.cases['ada_case'].pk}/").content.decode()
    assert "10,573.45" in body


def test_the_case_page_reveals_the_bank_s_extra_columns_on_request(world, client, login):
    from recoup.core import crypto

    case = world.cases["ada_case"]
    login(world.sue)
    assert 'data-testid="custom-fields"' not in client.get(f"/cases/{case.pk}/").content.decode()
    case.custom_sealed = crypto.seal_json({"客户等级": "VIP"}, aad=case.custom_aad())
    case.save(update_fields=["custom_sealed"])
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="custom-reveal"' in page
    assert "VIP" not in page
    response = client.post(f"/cases/{case.pk}/custom/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert 'data-testid="custom-values"' in fragment
    assert "VIP" in fragment
    assert AuditEvent.objects.filter(action="cases.custom_fields.viewed", actor=world.sue).exists()
    assert client.get(f"/cases/{case.pk}/custom/").status_code == 405
    # The admin assistant reads the branch's cases but may not see personal data in full:
    # the card, no button, and a refusal.
    login(world.amy)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert 'data-testid="custom-fields"' in page
    assert 'data-testid="custom-reveal"' not in page
    assert client.post(f"/cases/{case.pk}/custom/").status_code == 403
