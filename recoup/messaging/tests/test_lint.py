"""Template lint, table-driven: each forbidden thing is refused with its reason."""

from __future__ import annotations

import pytest

from recoup.clients.models import Contract
from recoup.messaging.lint import lint
from recoup.messaging.tests.helpers import LETTER_BODY, OFFICIAL_CHANNEL, SMS_BODY

pytestmark = pytest.mark.django_db


def _codes(world, body, *, kind="sms", audience="debtor", us=False, channel=OFFICIAL_CHANNEL):
    problems = lint(
        organisation_id=world.org.pk,
        kind=kind,
        audience=audience,
        body=body,
        official_channel=channel,
        us_profile=us,
    )
    return {p.code: p.message for p in problems}


def test_a_clean_sms_template_passes(world):
    assert _codes(world, SMS_BODY) == {}


def test_a_clean_third_party_template_passes(world):
    assert (
        _codes(world, "您好，麻烦转告{{name}}回电 {{agency_phone}}。", audience="third_party") == {}
    )


def test_a_clean_letter_passes(world):
    assert _codes(world, LETTER_BODY, kind="letter") == {}


@pytest.mark.parametrize(
    ("body", "code", "in_message"),
    [
        ("", "empty", "不能为空"),
        ("{{name}}您好，请联系{{collector}}。", "unknown_variable", "{{collector}}"),
        ("{{name}}您好 {{ amount }} {name}} }}", "malformed", "花括号"),
        ("{{name}}，老赖，快还钱。", "lexicon", "老赖"),
        ("{{name}}，不还就坐牢。", "lexicon", "不还就坐牢"),
        ("请转账至 6222 0212 3456 7890 123。", "account_number", "6222 0212 3456 7890 123"),
        ("请转账至６２２２０２１２３４５６７８９０。", "account_number", "6222021234567890"),
        ("开户行：某某银行，账号见附件。", "account_wording", "开户行、账号"),
        ("请扫码还款，二维码见附件。", "qr_code", "二维码"),
        ("Scan the QR code to pay.", "qr_code", "二维码"),
        ("请登录 https://pay.evil.example/x 还款。", "url", "https://pay.evil.example/x"),
        ("请登录 www.evil.example 还款。", "url", "www.evil.example"),
        ("x" * 501, "too_long", "501"),
    ],
)
def test_each_forbidden_thing_is_refused_with_its_reason(world, body, code, in_message):
    found = _codes(world, body)
    assert code in found, found
    assert in_message in found[code]


def test_a_link_of_the_official_channel_is_allowed(world):
    assert _codes(world, "请登录 https://card.bank-a.example/pay 还款。") == {}


@pytest.mark.parametrize(
    ("body", "code", "in_message"),
    [
        ("{{name}}欠款 {{amount}} 元。", "third_party_debt_variable", "{{amount}}"),
        (
            "请转告{{name}}，{{due_date}} 前处理 {{case_number}}。",
            "third_party_debt_variable",
            "{{due_date}}、{{case_number}}",
        ),
        (
            "请转告{{name}}通过{{repayment_channel}}处理。",
            "third_party_debt_variable",
            "{{repayment_channel}}",
        ),
        ("请转告{{name}}，他的信用卡已逾期。", "third_party_debt_word", "逾期"),
        ("请转告{{name}}尽快还款。", "third_party_debt_word", "还款"),
    ],
)
def test_a_third_party_template_may_not_mention_the_debt(world, body, code, in_message):
    found = _codes(world, body, audience="third_party")
    assert code in found, found
    assert in_message in found[code]


def test_the_third_party_lexicon_applies_only_to_third_party_templates(world):
    body = "{{name}}您好，您欠钱未还。"
    assert "lexicon" not in _codes(world, body)
    assert "欠钱" in _codes(world, body, audience="third_party")["lexicon"]


def test_every_problem_is_listed_at_once(world):
    found = _codes(world, "{{foo}} 老赖 扫码 账号 6222021234567890")
    assert {"unknown_variable", "lexicon", "qr_code", "account_wording", "account_number"} <= set(
        found
    )


def test_a_us_sms_needs_an_opt_out_slot(world):
    assert "opt_out_missing" in _codes(world, SMS_BODY, us=True)
    assert "opt_out_missing" not in _codes(world, SMS_BODY + " {{opt_out}}", us=True)
    assert "opt_out_missing" not in _codes(world, SMS_BODY, us=False)


@pytest.mark.parametrize(
    ("remove", "missing"),
    [
        ("{{name}}", "持卡人姓名"),
        ("{{amount}}", "欠款金额"),
        ("依据《商业银行信用卡业务监督管理办法》及您签署的领用合约，", "法律依据"),
        ("您的权利和义务：", "权利和义务"),
        ("查询方式：您可通过{{repayment_channel}}查询账户状态和还款情况。", "查询"),
        ("异议方式：如对欠款有异议，请在收到本通知之日起 15 日内联系我们并提交证据。", "异议方式"),
        ("{{bank_contact}}", "银行联系方式"),
        ("{{seal}}", "业务公章"),
    ],
)
def test_a_letter_missing_required_content_is_refused_naming_it(world, remove, missing):
    body = LETTER_BODY.replace(remove, "")
    assert body != LETTER_BODY
    found = _codes(world, body, kind="letter")
    assert set(found) == {"letter_missing"}
    assert missing in found["letter_missing"]


def test_a_letter_cannot_be_addressed_to_a_third_party(world):
    assert "letter_third_party" in _codes(world, LETTER_BODY, kind="letter", audience="third_party")


def test_sms_variables_and_letter_variables_differ(world):
    assert "unknown_variable" in _codes(world, "{{name}} {{seal}}")
    assert "unknown_variable" in _codes(world, LETTER_BODY + "{{opt_out}}", kind="letter")


def test_us_profile_contracts_are_detected(world):
    from recoup.messaging.selectors import us_profile, us_profile_for

    assert not us_profile(world.contract_a)
    Contract.objects.filter(pk=world.contract_a.pk).update(compliance_profile="us-federal")
    world.contract_a.refresh_from_db()
    assert us_profile(world.contract_a)
    assert us_profile_for(world.bank_a.pk, None)
    assert not us_profile_for(world.bank_b.pk, None)
