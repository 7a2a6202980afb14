from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.accounts.models import OrgUnit, Role, Team
from recoup.core.forms import BootstrapFormMixin


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, strip=False)


class PersonForm(forms.Form):
    """Create or edit a person; choices are filled per organisation by the view."""

    username = forms.CharField(label=_("用户名"), max_length=150)
    display_name = forms.CharField(label=_("姓名"), max_length=100)
    unit = forms.TypedChoiceField(label=_("机构"), coerce=int, required=False, empty_value=None)
    team = forms.TypedChoiceField(label=_("小组"), coerce=int, required=False, empty_value=None)
    roles = forms.MultipleChoiceField(label=_("角色"), widget=forms.CheckboxSelectMultiple)
    training_valid_until = forms.DateField(label=_("培训有效期至"), required=False)
    nda_valid_until = forms.DateField(label=_("保密协议有效期至"), required=False)
    password = forms.CharField(
        label=_("初始密码"), widget=forms.PasswordInput, required=False, strip=False
    )

    def __init__(
        self,
        *args: Any,
        units: Iterable[OrgUnit],
        teams: Iterable[Team],
        creating: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        unit_field = self.fields["unit"]
        team_field = self.fields["team"]
        roles_field = self.fields["roles"]
        assert isinstance(unit_field, forms.ChoiceField)
        assert isinstance(team_field, forms.ChoiceField)
        assert isinstance(roles_field, forms.ChoiceField)
        unit_field.choices = [("", "—"), *[(u.pk, u.name) for u in units]]
        team_field.choices = [("", "—"), *[(t.pk, f"{t.branch.name} · {t.name}") for t in teams]]
        roles_field.choices = Role.Code.choices
        if creating:
            self.fields["password"].required = True
        else:
            self.fields["username"].disabled = True
            del self.fields["password"]


class BranchForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label=_("分公司名称"), max_length=200)
    code = forms.SlugField(label=_("代码"), max_length=50)
    region = forms.CharField(label=_("地区"), max_length=100, required=False)


class TeamForm(BootstrapFormMixin, forms.Form):
    branch = forms.TypedChoiceField(label=_("分公司"), coerce=int)
    name = forms.CharField(label=_("小组名称"), max_length=200)
    code = forms.SlugField(label=_("代码"), max_length=50)

    def __init__(self, *args: Any, branches: Iterable[OrgUnit] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["branch"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(b.pk, b.name) for b in branches]
