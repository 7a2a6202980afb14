"""Allocation forms: HTML input only; the services validate the rules themselves."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.accounts.models import Team, User
from recoup.allocation.models import RuleSet
from recoup.cases.models import Case
from recoup.core.forms import BootstrapFormMixin

RULE_FORMS = 4  # rules shown in the editor; blank ones are ignored
_SPLIT = re.compile(r"[\s,，、;；]+")


def split_words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(text or "") if w]


class RuleSetForm(BootstrapFormMixin, forms.Form):
    contract = forms.TypedChoiceField(label=_("合作协议"), coerce=int)
    name = forms.CharField(label=_("规则集名称"), max_length=100)
    keep_debtor_together = forms.BooleanField(
        label=_("同一债务人的案件分给同一催收员"), required=False, initial=True
    )
    avoid_previous_collector = forms.BooleanField(label=_("不分回上一周期的催收员"), required=False)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def __init__(self, *args: Any, contracts: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.pk, f"{c.client.name} · {c.number}") for c in contracts]
        self.fields["contract"].choices = choices  # type: ignore[attr-defined]

    @classmethod
    def initial_for(cls, rule_set: RuleSet) -> dict[str, Any]:
        return {
            "contract": rule_set.contract_id,
            "name": rule_set.name,
            "keep_debtor_together": rule_set.keep_debtor_together,
            "avoid_previous_collector": rule_set.avoid_previous_collector,
            "active": rule_set.active,
        }


class RuleForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("规则名称"), max_length=100, required=False)
    stages = forms.MultipleChoiceField(
        label=_("逾期阶段"),
        choices=Case.Stage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    products = forms.MultipleChoiceField(
        label=_("产品"),
        choices=Case.Product.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    min_balance = forms.DecimalField(label=_("最低金额（元）"), required=False, min_value=0)
    max_balance = forms.DecimalField(label=_("最高金额（元）"), required=False, min_value=0)
    provinces = forms.CharField(label=_("省份（逗号分隔）"), required=False, max_length=500)
    cities = forms.CharField(label=_("城市（逗号分隔）"), required=False, max_length=500)
    risk_grades = forms.CharField(label=_("风险等级（逗号分隔）"), required=False, max_length=200)
    new_or_reallocated = forms.ChoiceField(
        label=_("新案/重分案"),
        choices=[("any", _("全部")), ("new", _("仅新案")), ("reallocated", _("仅重分案"))],
        required=False,
    )
    required_skills = forms.CharField(label=_("所需技能（逗号分隔）"), required=False)
    teams = forms.TypedMultipleChoiceField(label=_("小组"), coerce=int, required=False)
    collectors = forms.TypedMultipleChoiceField(label=_("催收员"), coerce=int, required=False)

    def __init__(
        self, *args: Any, teams: list[Team], collectors: list[tuple[User, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["teams"].choices = [(t.pk, f"{t.branch.name} · {t.name}") for t in teams]  # type: ignore[attr-defined]
        self.fields["collectors"].choices = [  # type: ignore[attr-defined]
            (u.pk, f"{u.display_name or u.username}{' ⚠' if reason else ''}")
            for u, reason in collectors
        ]

    @property
    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not data.get("name") and not data.get("teams") and not data.get("collectors")


class ManualForm(BootstrapFormMixin, forms.Form):
    ACTIONS = [("allocate", _("分配")), ("recall", _("收回到待分配"))]

    contract = forms.TypedChoiceField(label=_("合作协议"), coerce=int)
    numbers = forms.CharField(
        label=_("委托方案件号"),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text=_("每行一个，或用逗号、空格分隔；最多 5,000 个。不填则按下面的条件选择。"),
    )
    batch = forms.CharField(label=_("或按批次号"), max_length=80, required=False)
    stages = forms.MultipleChoiceField(
        label=_("逾期阶段"),
        choices=Case.Stage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    holder = forms.TypedChoiceField(
        label=_("当前催收员（不选则为待分配案件）"), coerce=int, required=False, empty_value=None
    )
    min_balance = forms.DecimalField(label=_("最低金额（元）"), required=False, min_value=0)
    max_balance = forms.DecimalField(label=_("最高金额（元）"), required=False, min_value=0)
    action = forms.ChoiceField(label=_("操作"), choices=ACTIONS)
    collector = forms.TypedChoiceField(
        label=_("催收员"), coerce=int, required=False, empty_value=None
    )
    team = forms.TypedChoiceField(
        label=_("或小组（在组内均衡分配）"), coerce=int, required=False, empty_value=None
    )
    reason = forms.CharField(label=_("收回原因"), max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        contracts: list[Any],
        teams: list[Team],
        collectors: list[tuple[User, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.pk, f"{c.client.name} · {c.number}") for c in contracts]
        self.fields["contract"].choices = choices  # type: ignore[attr-defined]
        self.fields["collector"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (u.pk, u.display_name or u.username) for u, _reason in collectors
        ]
        self.fields["holder"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (u.pk, u.display_name or u.username) for u, _reason in collectors
        ]
        self.fields["team"].choices = [("", "—")] + [(t.pk, t.name) for t in teams]  # type: ignore[attr-defined]

    def clean_numbers(self) -> list[str]:
        numbers = split_words(self.cleaned_data["numbers"])
        if len(numbers) > 5000:
            raise forms.ValidationError(_("一次最多处理 5,000 个案件。"))
        return list(dict.fromkeys(numbers))

    @property
    def by_filter(self) -> bool:
        return not self.cleaned_data.get("numbers")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("numbers") and not any(
            data.get(k) for k in ("batch", "stages", "holder", "min_balance", "max_balance")
        ):
            raise forms.ValidationError(_("请填写案件号，或至少一个选择条件。"))
        if data.get("action") == "allocate" and not (data.get("collector") or data.get("team")):
            raise forms.ValidationError(_("请选择催收员或小组。"))
        if data.get("action") == "allocate" and data.get("collector") and data.get("team"):
            raise forms.ValidationError(_("催收员和小组只能选一个。"))
        if data.get("action") == "recall" and not (data.get("reason") or "").strip():
            raise forms.ValidationError(_("请填写收回原因。"))
        return data


class HandoverForm(BootstrapFormMixin, forms.Form):
    departing = forms.TypedChoiceField(label=_("交出案件的催收员"), coerce=int)
    team = forms.TypedChoiceField(
        label=_("接手小组（默认为其本组）"), coerce=int, required=False, empty_value=None
    )
    end_access = forms.BooleanField(
        label=_("提交后停用其账号（离职）"), required=False, initial=True
    )
    note = forms.CharField(label=_("交接说明"), max_length=500, required=False)

    def __init__(self, *args: Any, teams: list[Team], people: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departing"].choices = [  # type: ignore[attr-defined]
            (u.pk, f"{u.display_name or u.username}（{u.team.name if u.team else '—'}）")
            for u in people
        ]
        self.fields["team"].choices = [("", "—")] + [(t.pk, t.name) for t in teams]  # type: ignore[attr-defined]


class ExtensionForm(BootstrapFormMixin, forms.Form):
    days = forms.IntegerField(label=_("延期天数"), min_value=1, max_value=90, initial=30)
    reason = forms.CharField(label=_("延期原因"), max_length=500)
    plan = forms.CharField(label=_("下一步计划"), widget=forms.Textarea(attrs={"rows": 4}))


class DecisionForm(forms.Form):
    approve = forms.TypedChoiceField(coerce=lambda v: v == "1", choices=[("1", "1"), ("0", "0")])
    note = forms.CharField(max_length=500, required=False)


class CollectorProfileForm(BootstrapFormMixin, forms.Form):
    max_open_cases = forms.IntegerField(
        label=_("最多在手案件数"), min_value=0, required=False, help_text=_("留空：不限")
    )
    max_total_balance = forms.DecimalField(
        label=_("最多在手金额"),
        min_value=0,
        max_digits=16,
        decimal_places=2,
        required=False,
        help_text=_("留空：不限"),
    )
    skills = forms.CharField(
        label=_("技能"),
        required=False,
        max_length=300,
        help_text=_("用空格或逗号分隔，例如 legal cantonese high_balance"),
    )
    weight = forms.IntegerField(label=_("权重"), min_value=1, max_value=100, initial=1)
    daily_attempts_target = forms.IntegerField(
        label=_("每日拨打目标"),
        min_value=1,
        max_value=2000,
        required=False,
        help_text=_("留空：200（SPEC §6）"),
    )
    daily_effective_target = forms.IntegerField(
        label=_("每日有效通话目标"),
        min_value=1,
        max_value=2000,
        required=False,
        help_text=_("留空：50（SPEC §6）"),
    )
