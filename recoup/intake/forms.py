from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.accounts.models import OrgUnit
from recoup.cases.models import StopListEntry
from recoup.clients.models import Contract
from recoup.core.forms import BootstrapFormMixin
from recoup.intake.fields import CUSTOM, IGNORE, fields_for
from recoup.intake.models import FileKind

ENCODINGS = [
    ("", _("自动识别")),
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 (BOM)"),
    ("gb18030", "GBK / GB18030"),
]


class UploadForm(BootstrapFormMixin, forms.Form):
    contract = forms.TypedChoiceField(label=_("合作协议"), coerce=int)
    kind = forms.ChoiceField(label=_("文件类型"), choices=FileKind.choices)
    file = forms.FileField(label=_("文件（CSV 或 XLSX）"))
    received_at = forms.DateTimeField(
        label=_("接收时间"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("收到委托方文件的时间，导入时效从此开始计算；默认为上传时间。"),
    )
    batch_reference = forms.CharField(label=_("批次号"), max_length=80, required=False)
    branch = forms.TypedChoiceField(
        label=_("接收分公司"), coerce=int, required=False, empty_value=None
    )
    encoding = forms.ChoiceField(label=_("编码"), choices=ENCODINGS, required=False)
    sheet = forms.CharField(label=_("工作表（XLSX，可选）"), max_length=100, required=False)

    def __init__(
        self,
        *args: Any,
        contracts: Iterable[Contract] = (),
        branches: Iterable[OrgUnit] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        contract_field, branch_field = self.fields["contract"], self.fields["branch"]
        assert isinstance(contract_field, forms.ChoiceField)
        assert isinstance(branch_field, forms.ChoiceField)
        contract_field.choices = [(c.pk, f"{c.client.name} · {c.number}") for c in contracts]
        branch_field.choices = [("", _("按上传人所在分公司")), *[(b.pk, b.name) for b in branches]]


class ResubmitForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(label=_("更正后的文件"))


class StopListForm(BootstrapFormMixin, forms.Form):
    id_number = forms.CharField(label=_("证件号码"), max_length=30)
    reason = forms.ChoiceField(label=_("原因"), choices=StopListEntry.Reason.choices)
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


def mapping_choices(kind: str) -> list[tuple[str, str]]:
    return [
        (IGNORE, str(_("（忽略）"))),
        (CUSTOM, str(_("（保留为自定义字段）"))),
        *[(f.name, f"{f.label}{' *' if f.required else ''}") for f in fields_for(kind)],
    ]
