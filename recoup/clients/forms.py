from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.clients.models import Client, Contract
from recoup.core.forms import BootstrapFormMixin


class DateInput(forms.DateInput):
    input_type = "date"


class ClientForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("委托方名称"), max_length=200)
    code = forms.SlugField(label=_("代码"), max_length=50)
    liaison_phone = forms.CharField(label=_("常规联络电话"), max_length=40, required=False)
    emergency_phone = forms.CharField(label=_("应急联络电话"), max_length=40, required=False)


class ContractForm(BootstrapFormMixin, forms.Form):
    client = forms.TypedChoiceField(label=_("委托方"), coerce=int)
    number = forms.CharField(label=_("协议编号"), max_length=80)
    name = forms.CharField(label=_("协议名称"), max_length=200)
    starts_on = forms.DateField(label=_("生效日期"), widget=DateInput)
    ends_on = forms.DateField(label=_("到期日期"), required=False, widget=DateInput)
    case_period_days = forms.IntegerField(label=_("委案周期（天）"), min_value=1, initial=30)
    review_every_days = forms.IntegerField(label=_("检查周期（天）"), min_value=1, initial=7)
    sla_profile = forms.CharField(label=_("SLA 配置"), max_length=50, initial="cn-default")
    compliance_profile = forms.CharField(label=_("合规配置"), max_length=50, initial="cn-default")
    retention_years = forms.IntegerField(label=_("保存年限"), min_value=5, initial=5)
    recording_retention_years = forms.IntegerField(label=_("录音保存年限"), min_value=2, initial=2)
    reconciliation_day = forms.IntegerField(label=_("对账日"), min_value=1, max_value=28, initial=5)
    import_error_policy = forms.ChoiceField(
        label=_("导入错误处理"),
        choices=Contract.ImportErrorPolicy.choices,
        initial="quarantine",
    )
    commission_table = forms.JSONField(label=_("佣金表（JSON）"), required=False, initial=dict)

    def __init__(
        self, *args: Any, clients: Iterable[Client] = (), editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        client_field = self.fields["client"]
        assert isinstance(client_field, forms.ChoiceField)
        client_field.choices = [(c.pk, c.name) for c in clients]
        if editing:
            self.fields["client"].disabled = True
            self.fields["number"].disabled = True


class PortalLinkForm(BootstrapFormMixin, forms.Form):
    person = forms.TypedChoiceField(label=_("委托方账号"), coerce=int)
    client = forms.TypedChoiceField(label=_("委托方"), coerce=int)

    def __init__(
        self, *args: Any, people: Iterable[Any] = (), clients: Iterable[Client] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        person_field, client_field = self.fields["person"], self.fields["client"]
        assert isinstance(person_field, forms.ChoiceField)
        assert isinstance(client_field, forms.ChoiceField)
        person_field.choices = [(p.pk, f"{p.username} · {p.display_name}") for p in people]
        client_field.choices = [(c.pk, c.name) for c in clients]
