from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.cases.models import Case, ContactPoint
from recoup.contact.models import InfoRepair, OverdueReason, Result

CALL_RESULTS = [
    (Result.DEBTOR_REACHED, Result.DEBTOR_REACHED.label),
    (Result.NO_ANSWER, Result.NO_ANSWER.label),
    (Result.BUSY, Result.BUSY.label),
    (Result.SWITCHED_OFF, Result.SWITCHED_OFF.label),
    (Result.INVALID_NUMBER, Result.INVALID_NUMBER.label),
    (Result.WRONG_PERSON, Result.WRONG_PERSON.label),
    (Result.THIRD_PARTY_REACHED, Result.THIRD_PARTY_REACHED.label),
    (Result.REFUSED, Result.REFUSED.label),
    (Result.HUNG_UP, Result.HUNG_UP.label),
    (Result.VOICEMAIL, Result.VOICEMAIL.label),
]

ONLY_CHOICES = [
    ("", _("全部")),
    ("promise_today", _("承诺今日到期")),
    ("broken", _("有违约承诺")),
    ("intensive", _("密集跟进")),
    ("follow_up", _("回访时间已到")),
    ("sla", _("首催/首轮期限")),
    ("lost_contact", _("失联")),
    ("fresh", _("尚未联系")),
]


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("案件号"), required=False, max_length=80)
    stage = forms.ChoiceField(
        label=_("阶段"), required=False, choices=[("", _("全部阶段")), *Case.Stage.choices]
    )
    only = forms.ChoiceField(label=_("只看"), required=False, choices=ONLY_CHOICES)


class SaveViewForm(forms.Form):
    name = forms.CharField(label=_("视图名称"), max_length=60)


class LogCallForm(forms.Form):
    result = forms.ChoiceField(label=_("结果"), choices=CALL_RESULTS, widget=forms.RadioSelect)
    promise_amount = forms.CharField(label=_("承诺金额"), required=False, max_length=20)
    promise_due_on = forms.DateField(label=_("承诺日期"), required=False)
    overdue_reason = forms.ChoiceField(
        label=_("逾期原因"), required=False, choices=[("", "—"), *OverdueReason.choices]
    )
    notes = forms.CharField(label=_("备注"), required=False, max_length=2000, widget=forms.Textarea)
    next_follow_up_at = forms.DateTimeField(label=_("下次跟进"), required=False)
    third_party_refused = forms.BooleanField(label=_("第三方表示拒绝再被联系"), required=False)


class RepairForm(forms.Form):
    outcome = forms.ChoiceField(label=_("结果"), choices=InfoRepair.Outcome.choices)
    channel = forms.CharField(label=_("查找途径"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), required=False, choices=ContactPoint.Kind.choices)
    value = forms.CharField(label=_("号码 / 地址"), required=False, max_length=200)
    role = forms.ChoiceField(label=_("关系"), required=False, choices=ContactPoint.Role.choices)
    name = forms.CharField(label=_("联系人姓名"), required=False, max_length=50)
    source = forms.ChoiceField(
        label=_("来源"),
        required=False,
        choices=[
            (ContactPoint.Source.CLIENT, ContactPoint.Source.CLIENT.label),
            (ContactPoint.Source.DEBTOR, ContactPoint.Source.DEBTOR.label),
            (ContactPoint.Source.COLLECTOR, ContactPoint.Source.COLLECTOR.label),
        ],
    )
    note = forms.CharField(label=_("说明"), required=False, max_length=500)
