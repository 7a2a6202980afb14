"""Template variables: the whitelist, finding them in a text, filling them in.

A template writes a variable as ``{{name}}`` (spaces inside the braces allowed). Only the
names below exist; anything else between double braces, or a stray ``{{``/``}}``/``{%``, is
refused when the template is saved. Rendering never evaluates anything: it substitutes
strings, so a template cannot reach data it was not given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
STRAY_RE = re.compile(r"\{\{|\}\}|\{%|%\}")

LABELS = {
    "name": _("债务人姓名"),
    "amount": _("欠款总额"),
    "due_date": _("还款期限（待履行承诺的日期）"),
    "case_number": _("委托方案件号"),
    "creditor": _("委托方名称"),
    "repayment_channel": _("官方还款渠道"),
    "agency_phone": _("本机构联系电话"),
    "bank_contact": _("委托方联系方式"),
    "opt_out": _("退订方式（回复TD退订 / Reply STOP）"),
    "address": _("收件地址"),
    "date": _("出具日期"),
    "seal": _("业务公章位置"),
}
SMS_VARIABLES = frozenset(
    {
        "name",
        "amount",
        "due_date",
        "case_number",
        "creditor",
        "repayment_channel",
        "agency_phone",
        "bank_contact",
        "opt_out",
    }
)
LETTER_VARIABLES = (SMS_VARIABLES - {"opt_out"}) | {"address", "date", "seal"}
# Variables that reveal the debt: never in a third-party template (CN-4, US 1692b).
DEBT_VARIABLES = frozenset({"amount", "due_date", "case_number", "repayment_channel"})


def allowed_for(kind: str) -> frozenset[str]:
    return LETTER_VARIABLES if kind == "letter" else SMS_VARIABLES


def variables_in(body: str) -> list[str]:
    """The variable names a text uses, each once, in order of first use."""
    return list(dict.fromkeys(VARIABLE_RE.findall(body)))


def without_variables(body: str) -> str:
    """The literal text of a template: what the lint rules read."""
    return VARIABLE_RE.sub(" ", body)


def has_stray_braces(body: str) -> bool:
    return STRAY_RE.search(without_variables(body)) is not None


def render_text(body: str, values: Mapping[str, str]) -> str:
    """Fill every variable; the caller has checked that each one has a value."""
    return VARIABLE_RE.sub(lambda m: values[m.group(1)], body)


def render_html(body: str, values: Mapping[str, str], markup: Mapping[str, str]) -> SafeString:
    """The letter body as HTML: literal text and values escaped, ``markup`` values trusted.

    ``markup`` holds Recoup's own fragments (the seal box); everything from the template or
    the case is escaped, so neither can inject HTML into the PDF.
    """
    tokens: dict[str, str] = {}

    def _token(match: re.Match[str]) -> str:
        name = match.group(1)
        key = f"\x00{len(tokens)}\x00"
        tokens[key] = (
            markup[name] if name in markup else str(escape(values[name])).replace("\n", "<br>")
        )
        return key

    tokenised = VARIABLE_RE.sub(_token, body)
    html = linebreaks(tokenised, autoescape=True)
    for key, value in tokens.items():
        html = html.replace(key, value)
    return mark_safe(html)  # noqa: S308 (literal text escaped above; markup is our own)
