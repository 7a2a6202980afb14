"""HTML input for the messaging screens (validation of shape only; rules live in services)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.clients.models import Client, Contract
from recoup.core.forms import BootstrapFormMixin
from recoup.messaging.models import Message, MessageTemplate


class TemplateForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=MessageTemplate.Kind.choices)
    audience = forms.ChoiceField(label=_("对象"), choices=MessageTemplate.Audience.choices)
    client = forms.TypedChoiceField(label=_("委托方"), coerce=int)
    contract = forms.TypedChoiceField(
        label=_("合作协议（留空 = 该委托方全部协议）"), coerce=int, required=False, empty_value=None
    )
    body = forms.CharField(
        label=_("内容"),
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=_("变量写作 {{name}}、{{amount}} 等，见右侧列表。"),
    )

    def __init__(
        self,
        *args: Any,
        clients: Iterable[Client] = (),
        contracts: Iterable[Contract] = (),
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        client_field = self.fields["client"]
        contract_field = self.fields["contract"]
        assert isinstance(client_field, forms.ChoiceField)
        assert isinstance(contract_field, forms.ChoiceField)
        client_field.choices = [(c.pk, c.name) for c in clients]
        contract_field.choices = [("", "—")] + [
            (c.pk, f"{c.client.name} · {c.number}") for c in contracts
        ]
        if editing:
            client_field.disabled = True


class ApproveForm(BootstrapFormMixin, forms.Form):
    approval_reference = forms.CharField(label=_("委托方审批编号"), max_length=100)


class SettingsForm(BootstrapFormMixin, forms.Form):
    repayment_channel = forms.CharField(
        label=_("官方还款渠道"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("短信和信函中唯一允许出现的还款方式，如银行官方 App、客服热线。"),
    )
    agency_phone = forms.CharField(label=_("本机构联系电话"), max_length=40, required=False)
    bank_contact = forms.CharField(
        label=_("委托方联系方式"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class SmsSendForm(forms.Form):
    case = forms.IntegerField()
    contact_point = forms.UUIDField()
    template = forms.IntegerField()
    due_date = forms.DateField(required=False)
    queue = forms.BooleanField(required=False)  # outside the window: queue for its opening


class LetterSendForm(forms.Form):
    case = forms.IntegerField()
    address = forms.UUIDField()
    template = forms.IntegerField()
    delivery = forms.CharField(max_length=20)  # checked by the service (public posting refused)

    DELIVERY_CHOICES = Message.Delivery.choices
