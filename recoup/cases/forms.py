from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.cases.models import Case, Hold


class CaseFilterForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=80)
    status = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部状态")), *Case.Status.choices]
    )
    stage = forms.ChoiceField(
        label=_("阶段"), required=False, choices=[("", _("全部阶段")), *Case.Stage.choices]
    )
    client = forms.IntegerField(label=_("委托方"), required=False, min_value=1)
    batch = forms.IntegerField(label=_("批次"), required=False, min_value=1)
    assignee = forms.IntegerField(label=_("催收员"), required=False, min_value=1)


class HoldForm(forms.Form):
    reason = forms.ChoiceField(label=_("原因"), choices=Hold.Reason.choices)
    note = forms.CharField(label=_("说明"), required=False, max_length=500)
    expires_at = forms.DateTimeField(label=_("到期时间"), required=False)
