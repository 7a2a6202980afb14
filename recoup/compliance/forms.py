"""Input of the compliance screens: a profile's parameters, a lexicon term, a text to scan.

The profile form has one field per parameter of the catalogue (``params.PARAMS``); a blank
field means the profile does not set that parameter. Values are checked with the catalogue's
own rules (``params.clean_params``) so the editor sees the same message the service would give,
next to the field it concerns; the service checks them again when it saves.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.compliance.params import PARAMS, Param, ParamError, clean_params
from recoup.compliance.selectors import channel_choices, weekday_choices
from recoup.core.forms import BootstrapFormMixin

BOOL_CHOICES = [("", _("不设置")), ("true", _("是")), ("false", _("否"))]


class _OpenMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes whose values the catalogue validates (an unknown channel gets its message)."""

    def valid_value(self, value: str) -> bool:
        return True


def _param_field(param: Param) -> forms.Field:
    label, help_text = param.label, param.help
    if param.kind == "bool":
        return forms.ChoiceField(
            label=label, help_text=help_text, choices=BOOL_CHOICES, required=False
        )
    if param.kind == "channels":
        return _OpenMultipleChoiceField(
            label=label,
            help_text=help_text,
            choices=channel_choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
    if param.kind == "weekdays":
        return _OpenMultipleChoiceField(
            label=label,
            help_text=help_text,
            choices=weekday_choices,
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )
    attrs = {
        "time": {"placeholder": "08:00", "inputmode": "numeric"},
        "int": {"inputmode": "numeric"},
        "zones": {"placeholder": "Asia/Shanghai"},
    }.get(param.kind, {})
    # Text for numbers and times too: "-1" or "25:00" must reach the catalogue's check.
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs=attrs),
    )


def initial_from(params: dict[str, Any]) -> dict[str, Any]:
    """A profile version's parameters as the form's initial values."""
    initial: dict[str, Any] = {}
    for param in PARAMS:
        value = params.get(param.name)
        if value is None:
            continue
        if param.kind == "bool":
            initial[param.name] = "true" if value else "false"
        elif param.kind in ("channels", "weekdays"):
            initial[param.name] = [str(v) for v in value]
        elif param.kind == "zones":
            initial[param.name] = ", ".join(value)
        else:
            initial[param.name] = str(value)
    return initial


class ProfileForm(BootstrapFormMixin, forms.Form):
    """One field per catalogue parameter (added below) and the reason for the change."""

    note = forms.CharField(
        label=_("修改原因"),
        max_length=500,
        help_text=_("必填：为什么修改（如法规条款、合同约定、监管通知）。"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def param_fields(self) -> list[forms.BoundField]:
        return [self[param.name] for param in PARAMS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        good: dict[str, Any] = {}
        for param in PARAMS:
            value = cleaned.get(param.name)
            if param.name in self.errors:
                continue
            try:
                good.update(clean_params({param.name: value}))
            except ParamError as exc:
                self.add_error(param.name, str(exc))
        if not self.errors:
            try:
                clean_params(good)  # rules between parameters (the window's start and end)
            except ParamError as exc:
                self.add_error(None, str(exc))
        return cleaned

    @property
    def params(self) -> dict[str, Any]:
        """The parameters as entered (blank ones left out), for the service to save."""
        return {
            param.name: self.cleaned_data[param.name]
            for param in PARAMS
            if self.cleaned_data.get(param.name) not in (None, "", [])
        }


# The catalogue's parameters first, in its order, then the note.
ProfileForm.base_fields = {
    **{param.name: _param_field(param) for param in PARAMS},
    **ProfileForm.base_fields,
}


class LexiconTermForm(BootstrapFormMixin, forms.Form):
    term = forms.CharField(label=_("词语"), max_length=100)
    is_pattern = forms.BooleanField(
        label=_("正则表达式"),
        required=False,
        help_text=_("勾选后按正则匹配，如 欠[了]?\\d+元。"),
    )


class ScanForm(BootstrapFormMixin, forms.Form):
    text = forms.CharField(
        label=_("要检查的文字"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    third_party = forms.BooleanField(
        label=_("按第三方场景检查（含仅限第三方的类别）"), required=False
    )
