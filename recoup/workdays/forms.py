"""Input of the calendar screens: one day's status, and a year's file."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from recoup.core.forms import BootstrapFormMixin
from recoup.workdays.importfile import MAX_NAME_LENGTH
from recoup.workdays.services import FIRST_YEAR, LAST_YEAR


class DayForm(BootstrapFormMixin, forms.Form):
    is_workday = forms.BooleanField(label=_("上班（工作日）"), required=False)
    name = forms.CharField(
        label=_("名称"),
        max_length=MAX_NAME_LENGTH,
        required=False,
        help_text=_("如：国庆节、调休上班；普通周末留空。"),
    )


class YearImportForm(BootstrapFormMixin, forms.Form):
    year = forms.IntegerField(label=_("年份"), min_value=FIRST_YEAR, max_value=LAST_YEAR)
    file = forms.FileField(label=_("文件（CSV 或 XLSX）"))
