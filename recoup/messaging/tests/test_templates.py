"""Templates: saving with lint, approval (four eyes), versions; the client settings."""

from __future__ import annotations

import pytest

from recoup.audit.models import AuditEvent
from recoup.core.exceptions import NotFound, PermissionDenied, RecoupError, ValidationError
from recoup.messaging.models import MessageTemplate, MessagingSettings
from recoup.messaging.services import (
    TemplateInput,
    TemplateRefused,
    messaging_settings_save,
    template_approve,
    template_save,
)
from recoup.messaging.tests.helpers import SMS_BODY, THIRD_PARTY_BODY, approved, draft, settings_for

pytestmark = pytest.mark.django_db


def test_a_refused_template_lists_every_problem_and_stores_nothing(world):
    with pytest.raises(TemplateRefused) as refused:
        draft(world.sue, world.bank_a, "{{foo}} 老赖，请扫二维码转账到 6222021234567890")
    codes = {p.code for p in refused.value.problems}
    assert {"unknown_variable", "lexicon", "qr_code", "account_number"} <= codes
    assert "老赖" in refused.value.message
    assert not MessageTemplate.objects.exists()
    assert not AuditEvent.objects.filter(action="messaging.template.saved").exists()


def test_a_third_party_template_mentioning_the_debt_is_refused(world):
    with pytest.raises(TemplateRefused) as refused:
        draft(
            world.sue,
            world.bank_a,
            "请转告{{name}}，欠款 {{amount}} 元已逾期。",
            audience="third_party",
        )
    codes = {p.code for p in refused.value.problems}
    assert {"third_party_debt_variable", "third_party_debt_word"} <= codes
    assert not MessageTemplate.objects.exists()


def test_a_new_template_is_a_draft_version_one_and_audited(world):
    template = draft(world.sue, world.bank_a)
    assert (template.status, template.version) == ("draft", 1)
    event = AuditEvent.objects.get(action="messaging.template.saved")
    assert event.data["version"] == 1
    assert event.actor_id == world.sue.pk


def test_approval_needs_a_reference_and_another_person(world):
    template = draft(world.sue, world.bank_a)
    with pytest.raises(ValidationError):
        template_approve(actor=world.hal, template=template, approval_reference="  ")
    with pytest.raises(PermissionDenied):
        template_approve(actor=world.sue, template=template, approval_reference="函 1")
    with pytest.raises(PermissionDenied):
        template_approve(actor=world.ada, template=template, approval_reference="函 1")
    template.refresh_from_db()
    assert template.status == "draft"
    approved_row = template_approve(actor=world.hal, template=template, approval_reference="函 1")
    assert approved_row.status == "approved"
    assert approved_row.approved_by == world.hal
    assert approved_row.approval_reference == "函 1"
    assert AuditEvent.objects.filter(action="messaging.template.approved").count() == 1
    with pytest.raises(RecoupError):
        template_approve(actor=world.max, template=approved_row, approval_reference="函 2")


def test_editing_an_approved_template_makes_a_new_draft_that_supersedes_on_approval(world):
    v1 = approved(world.sue, world.hal, world.bank_a)
    v2 = template_save(
        actor=world.sue,
        template=v1,
        data=TemplateInput(
            kind="sms",
            name="逾期提醒",
            audience="debtor",
            body=SMS_BODY + "（第二版）",
            client=world.bank_a,
        ),
    )
    assert (v2.version, v2.status, v2.family) == (2, "draft", v1.family)
    v1.refresh_from_db()
    assert v1.status == "approved"  # still the one in use until v2 is approved
    # An older version cannot be edited any more.
    with pytest.raises(RecoupError) as err:
        template_save(
            actor=world.sue,
            template=v1,
            data=TemplateInput(
                kind="sms", name="x", audience="debtor", body=SMS_BODY, client=world.bank_a
            ),
        )
    assert err.value.code == "not_latest"
    # Editing the draft changes it in place.
    same = template_save(
        actor=world.sue,
        template=v2,
        data=TemplateInput(
            kind="sms", name="逾期提醒", audience="debtor", body=SMS_BODY, client=world.bank_a
        ),
    )
    assert same.pk == v2.pk
    template_approve(actor=world.max, template=v2, approval_reference="函 2")
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == ("superseded", "approved")
    assert MessageTemplate.objects.filter(family=v1.family).count() == 2


def test_only_editors_write_templates(world):
    for person in (world.ada, world.cli, world.sam):
        with pytest.raises(PermissionDenied):
            draft(person, world.bank_a)
    with pytest.raises(NotFound):  # the rival's supervisor: not their client
        draft(world.ola, world.bank_a)
    assert draft(world.amy, world.bank_a).status == "draft"  # the bank liaison drafts


def test_a_template_of_another_agencys_client_is_refused(world):
    from recoup.clients.models import Client

    rival_client = Client.objects.get(organisation=world.rival)
    with pytest.raises(NotFound):
        draft(world.sue, rival_client)


def test_the_third_party_template_is_saved(world):
    template = draft(world.sue, world.bank_a, THIRD_PARTY_BODY, audience="third_party")
    assert template.audience == "third_party"


def test_client_settings_are_saved_audited_and_linted(world):
    row = settings_for(world.bank_a, world.sue)
    assert row.repayment_channel.startswith("甲银行手机银行")
    settings_for(world.bank_a, world.hal, agency_phone="010-12345678")
    event = AuditEvent.objects.filter(action="messaging.settings.saved").order_by("-seq").first()
    assert event.data["before"]["agency_phone"] == "400-800-1234"
    assert event.data["after"]["agency_phone"] == "010-12345678"
    with pytest.raises(TemplateRefused):
        settings_for(world.bank_a, world.sue, repayment_channel="扫这个二维码还款")
    assert MessagingSettings.objects.get().agency_phone == "010-12345678"
    with pytest.raises(PermissionDenied):
        messaging_settings_save(
            actor=world.ada,
            client=world.bank_a,
            repayment_channel="",
            agency_phone="",
            bank_contact="",
        )


def test_a_link_is_allowed_only_when_the_official_channel_has_it(world):
    body = "{{name}}您好，请登录 https://card.bank-a.example/pay 还款。"
    with pytest.raises(TemplateRefused):
        draft(world.sue, world.bank_a, body)
    settings_for(world.bank_a, world.sue)
    assert draft(world.sue, world.bank_a, body).status == "draft"


def test_approval_lints_again(world):
    template = draft(world.sue, world.bank_a, "{{name}}您好，请尽快联系我们。")
    from recoup.compliance.models import LexiconCategory
    from recoup.compliance.services import lexicon_term_add
    from tests.fixtures import _user

    cora = _user(world.org, "cora", ["compliance_officer"], world.hq)
    lexicon_term_add(
        actor=cora,
        category=LexiconCategory.objects.get(organisation=world.org, code="insult"),
        term="尽快联系",
    )
    with pytest.raises(TemplateRefused):
        template_approve(actor=world.hal, template=template, approval_reference="函 3")
    template.refresh_from_db()
    assert template.status == "draft"
