"""Shared set-up of the messaging tests: a client's settings, approved templates, clean texts."""

from __future__ import annotations

from recoup.clients.models import Client, Contract
from recoup.messaging.models import MessageTemplate, MessagingSettings
from recoup.messaging.services import (
    TemplateInput,
    messaging_settings_save,
    template_approve,
    template_save,
)

OFFICIAL_CHANNEL = (
    "甲银行手机银行 App「信用卡还款」或客服热线 95555，官网 https://card.bank-a.example/pay"
)
AGENCY_PHONE = "400-800-1234"
BANK_CONTACT = "甲银行信用卡中心，客服热线 95555，地址：北京市西城区金融大街 1 号"

SMS_BODY = (
    "{{name}}您好，您在{{creditor}}的信用卡欠款 {{amount}} 元已逾期，请通过{{repayment_channel}}"
    "还款。如有疑问请致电 {{agency_phone}}。"
)
THIRD_PARTY_BODY = "您好，麻烦转告{{name}}尽快回电 {{agency_phone}}，谢谢。"
LETTER_BODY = (
    """尊敬的{{name}}：

收件地址：{{address}}

截至{{date}}，您在{{creditor}}的信用卡欠款总额为人民币 {{amount}} 元，已逾期。"""
    """催收原因：账户逾期未还。依据《商业银行信用卡业务监督管理办法》及您签署的领用合约，"""
    """现通知您还款。

您的权利和义务：您有权了解欠款构成、提出异议；您有按约定偿还欠款的义务。

查询方式：您可通过{{repayment_channel}}查询账户状态和还款情况。

异议方式：如对欠款有异议，请在收到本通知之日起 15 日内联系我们并提交证据。

银行联系方式：{{bank_contact}}

{{seal}}"""
)


def settings_for(client: Client, actor: object, **overrides: str) -> MessagingSettings:
    values = {
        "repayment_channel": OFFICIAL_CHANNEL,
        "agency_phone": AGENCY_PHONE,
        "bank_contact": BANK_CONTACT,
    } | overrides
    return messaging_settings_save(actor=actor, client=client, **values)  # type: ignore[arg-type]


def draft(
    author: object,
    client: Client,
    body: str = SMS_BODY,
    *,
    kind: str = "sms",
    audience: str = "debtor",
    name: str = "逾期提醒",
    contract: Contract | None = None,
) -> MessageTemplate:
    return template_save(
        actor=author,  # type: ignore[arg-type]
        data=TemplateInput(
            kind=kind, name=name, audience=audience, body=body, client=client, contract=contract
        ),
    )


def approved(
    author: object, approver: object, client: Client, body: str = SMS_BODY, **kwargs: object
) -> MessageTemplate:
    template = draft(author, client, body, **kwargs)  # type: ignore[arg-type]
    return template_approve(
        actor=approver,  # type: ignore[arg-type]
        template=template,
        approval_reference="甲银行函〔2026〕12号",
    )
