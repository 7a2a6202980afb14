import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.cases.models import Case
from recoup.clients.models import Client
from recoup.money.models import Channel, Payment, RepaymentPlan

STATUS_FILTER = [
    ("", _("全部状态")),
    ("open", _("待处理（未匹配与异常）")),
    *[(v, label) for v, label in Payment.Status.choices if v != "pending"],
]


def parse_amount(text: str) -> Decimal:
    """ "1,000.00", "¥1000", "1000元" → Decimal("1000.00"); anything else is refused."""
    cleaned = re.sub(r"[\s,，¥￥元]", "", text or "")
    if not re.fullmatch(r"-?\d+(\.\d{1,2})?", cleaned):
        raise forms.ValidationError(_("金额格式不正确，例如 1,000.00。"))
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        raise forms.ValidationError(_("金额格式不正确，例如 1,000.00。")) from None


class PaymentFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("状态"), required=False, choices=STATUS_FILTER)
    q = forms.CharField(label=_("流水号或案件号"), required=False, max_length=80)
    paid_from = forms.DateField(label=_("还款日期从"), required=False)
    paid_to = forms.DateField(label=_("至"), required=False)


class ManualPaymentForm(forms.Form):
    case_number = forms.CharField(label=_("委托方案件号"), max_length=80)
    transaction_id = forms.CharField(label=_("交易流水号"), max_length=80)
    amount = forms.CharField(label=_("还款金额"), max_length=24)
    paid_on = forms.DateField(
        label=_("还款日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    channel = forms.ChoiceField(label=_("还款渠道"), choices=Channel.choices)
    evidence = forms.FileField(
        label=_("凭证（PDF/JPG/PNG）"),
        help_text=_("委托方回单、流水截图等。"),
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def clean_amount(self) -> Decimal:
        return parse_amount(self.cleaned_data["amount"])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, field in self.fields.items():
            css = "form-select" if name == "channel" else "form-control"
            field.widget.attrs.setdefault("class", css)


class MatchForm(forms.Form):
    case_number = forms.CharField(label=_("委托方案件号"), max_length=80)
    note = forms.CharField(label=_("说明"), required=False, max_length=500)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), max_length=300)


class _Styled(forms.Form):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for field in self.fields.values():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", css)


class PlanForm(_Styled):
    total = forms.CharField(label=_("方案总额"), max_length=24)
    count = forms.IntegerField(label=_("期数"), min_value=1, max_value=60, initial=3)
    first_amount = forms.CharField(label=_("首期金额"), max_length=24)
    first_due_on = forms.DateField(
        label=_("首期日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    payer = forms.ChoiceField(label=_("还款人"), choices=RepaymentPlan.Payer.choices)
    payer_name = forms.CharField(label=_("代还人姓名"), required=False, max_length=40)
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def clean_total(self) -> Decimal:
        return parse_amount(self.cleaned_data["total"])

    def clean_first_amount(self) -> Decimal:
        return parse_amount(self.cleaned_data["first_amount"])


class ConsentForm(_Styled):
    reference = forms.CharField(label=_("委托方同意编号或邮件标题"), max_length=80)
    evidence = forms.FileField(label=_("同意凭证（PDF/JPG/PNG）"))


class SignForm(_Styled):
    signed_on = forms.DateField(
        label=_("签署日期"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    debtor_document = forms.FileField(label=_("债务人签署的还款计划书"))
    payer_document = forms.FileField(label=_("代还人签署文件"), required=False)


class ReductionForm(_Styled):
    waived = forms.CharField(label=_("减免金额"), max_length=24)
    pay_by = forms.DateField(
        label=_("须还金额的还款截止日"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    reason = forms.CharField(label=_("减免理由"), max_length=500)
    evidence = forms.FileField(label=_("证明材料（PDF/JPG/PNG）"))

    def clean_waived(self) -> Decimal:
        return parse_amount(self.cleaned_data["waived"])


class AuthorityForm(_Styled):
    client = forms.ModelChoiceField(label=_("委托方"), queryset=Client.objects.none())
    stage = forms.ChoiceField(
        label=_("逾期阶段"), required=False, choices=[("", _("全部阶段")), *Case.Stage.choices]
    )
    min_balance = forms.CharField(label=_("余额下限"), max_length=24, initial="0")
    max_balance = forms.CharField(label=_("余额上限（空：不限）"), max_length=24, required=False)
    max_pct = forms.DecimalField(label=_("最高减免比例（%）"), max_digits=5, decimal_places=2)

    def __init__(self, *args: object, clients: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if clients is not None:
            self.fields["client"].queryset = clients  # type: ignore[attr-defined]

    def clean_min_balance(self) -> Decimal:
        return parse_amount(self.cleaned_data["min_balance"])

    def clean_max_balance(self) -> Decimal | None:
        raw = self.cleaned_data["max_balance"]
        return parse_amount(raw) if raw.strip() else None
