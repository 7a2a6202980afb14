"""Template lint: every reason a text may not become an SMS or letter template.

Run on every save and again on approval (the lexicon may have grown since). A template with
any problem is refused with all of its problems listed, and nothing is stored.

Rules (COMPLIANCE.md):
- forbidden words and patterns of the lexicon (§E); third-party-only categories count for
  third-party templates;
- CN-10: no repayment instruction other than the creditor's official channel: no bank
  account numbers (a run of 12 or more digits), no 开户行/账号/收款人 wording, no QR codes,
  no links unless the client's official channel text contains them. The official channel
  reaches a message only through ``{{repayment_channel}}``;
- CN-4: a third-party template never mentions the debt: none of the debt variables and
  none of the debt words;
- US-8: an SMS template under a US profile carries ``{{opt_out}}``;
- CN-6: a letter carries every required element (``LETTER_REQUIRED``);
- unknown variables, stray braces, length limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from recoup.compliance.lexicon import scan
from recoup.messaging.variables import (
    DEBT_VARIABLES,
    allowed_for,
    has_stray_braces,
    variables_in,
    without_variables,
)

SMS_MAX_CHARS = 500
LETTER_MAX_CHARS = 20_000

# Twelve or more digits, single spaces or hyphens between them allowed ("6222 0212 3456 7890").
ACCOUNT_NUMBER_RE = re.compile(r"\d(?:[ \-]?\d){11,}")
ACCOUNT_WORDS = ("开户行", "开户银行", "账号", "帐号", "收款账户", "收款帐户", "收款人")
QR_RE = re.compile(r"二维码|扫码|扫一扫|qr", re.IGNORECASE)
URL_RE = re.compile(r"(?:https?://|www\.)[^\s，。；、）)\"'<>]+", re.IGNORECASE)
# Words that tell a third party there is a debt (CN-4; the lexicon may hold more).
THIRD_PARTY_DEBT_WORDS = ("欠款", "欠钱", "欠费", "逾期", "还款", "债务", "催收", "账单")


def _has_all(*words: str) -> Callable[[str, list[str]], bool]:
    return lambda text, _vars: all(w in text for w in words)


def _has_any(*words: str) -> Callable[[str, list[str]], bool]:
    return lambda text, _vars: any(w in text for w in words)


def _uses(name: str) -> Callable[[str, list[str]], bool]:
    return lambda _text, used: name in used


# CN-6 (2011 Measures Art 69): what a collection letter must state. Variables where the
# content is data; for the prose sections, the words a section of that kind cannot avoid.
LETTER_REQUIRED: tuple[tuple[str, Any, Callable[[str, list[str]], bool]], ...] = (
    ("name", gettext_lazy("持卡人姓名 {{name}}"), _uses("name")),
    ("amount", gettext_lazy("欠款金额 {{amount}}"), _uses("amount")),
    ("basis", gettext_lazy("催收原因及法律依据（“依据/根据《…》”）"), _has_any("依据", "根据")),
    ("rights", gettext_lazy("持卡人的权利和义务"), _has_all("权利", "义务")),
    ("account_check", gettext_lazy("查询账户状态和还款情况的方式（“查询”）"), _has_any("查询")),
    (
        "objection",
        gettext_lazy("异议方式（提出异议、提交证据的方式）"),
        _has_any("异议方式", "异议渠道", "异议途径", "提出异议的方式"),
    ),
    ("bank_contact", gettext_lazy("银行联系方式 {{bank_contact}}"), _uses("bank_contact")),
    ("seal", gettext_lazy("业务公章 {{seal}}"), _uses("seal")),
)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def _braced(name: str) -> str:
    return "{{" + name + "}}"


def _fold_digits(text: str) -> str:
    # Full-width digits and hyphens count as digits (０１２… → 012…).
    return text.translate({code: code - 0xFEE0 for code in range(0xFF10, 0xFF1A)} | {0xFF0D: "-"})


def lint(
    *,
    organisation_id: int,
    kind: str,
    audience: str,
    body: str,
    official_channel: str = "",
    us_profile: bool = False,
) -> list[Problem]:
    """Every problem of a template text (an empty list: it may be saved)."""
    problems: list[Problem] = []

    def add(code: str, message: str) -> None:
        problems.append(Problem(code, message))

    if not body.strip():
        add("empty", _("模板内容不能为空。"))
        return problems
    used = variables_in(body)
    literal = without_variables(body)
    folded = _fold_digits(literal)
    limit = LETTER_MAX_CHARS if kind == "letter" else SMS_MAX_CHARS
    if len(body) > limit:
        add(
            "too_long",
            _("内容 %(count)s 字，超过上限 %(limit)s 字。") % {"count": len(body), "limit": limit},
        )
    unknown = [name for name in used if name not in allowed_for(kind)]
    if unknown:
        add(
            "unknown_variable",
            _("未知变量：%(names)s。") % {"names": _("、").join(_braced(n) for n in unknown)},
        )
    if has_stray_braces(body):
        add("malformed", _("变量格式错误：变量须写作 {{变量名}}，不能有多余的花括号。"))
    third_party = audience == "third_party"
    for hit in scan(organisation_id, literal, third_party=third_party):
        add(
            "lexicon",
            _("含禁语“%(term)s”（%(category)s）。") % {"term": hit.term, "category": hit.name},
        )
    numbers = ACCOUNT_NUMBER_RE.findall(folded)
    if numbers:
        add(
            "account_number",
            _("含疑似银行账号“%(number)s”：还款只能通过委托方官方渠道 {{repayment_channel}}。")
            % {"number": numbers[0]},
        )
    words = [w for w in ACCOUNT_WORDS if w in literal]
    if words:
        add(
            "account_wording",
            _("含账户信息用语“%(words)s”：还款只能通过委托方官方渠道 {{repayment_channel}}。")
            % {"words": _("、").join(words)},
        )
    if QR_RE.search(literal):
        add("qr_code", _("不得含二维码或扫码还款的内容。"))
    for url in URL_RE.findall(literal):
        if url not in official_channel:
            add("url", _("链接“%(url)s”不是委托方官方还款渠道中的链接。") % {"url": url})
    if third_party:
        if kind == "letter":
            add("letter_third_party", _("信函只能发给债务人本人，不能以第三方为对象。"))
        leaked = [name for name in used if name in DEBT_VARIABLES]
        if leaked:
            add(
                "third_party_debt_variable",
                _("第三方模板不得使用涉及欠款的变量：%(names)s。")
                % {"names": _("、").join(_braced(n) for n in leaked)},
            )
        debt_words = [w for w in THIRD_PARTY_DEBT_WORDS if w in literal]
        if debt_words:
            add(
                "third_party_debt_word",
                _("第三方模板不得提及欠款：含“%(words)s”。") % {"words": _("、").join(debt_words)},
            )
    if kind == "sms" and us_profile and "opt_out" not in used:
        add("opt_out_missing", _("美国合规配置要求短信含退订方式 {{opt_out}}（Reg F 1006.6(e)）。"))
    if kind == "letter" and not third_party:
        missing = [
            str(label) for _code, label, check in LETTER_REQUIRED if not check(literal, used)
        ]
        if missing:
            add(
                "letter_missing",
                _("信函缺少必备内容（CN-6）：%(items)s。") % {"items": _("；").join(missing)},
            )
    return problems


def lint_official_channel(*, organisation_id: int, text: str) -> list[Problem]:
    """The official repayment channel text itself: no forbidden words, no QR codes.

    Account numbers and links are allowed here: this is the creditor's own channel.
    """
    problems = [
        Problem(
            "lexicon",
            _("含禁语“%(term)s”（%(category)s）。") % {"term": h.term, "category": h.name},
        )
        for h in scan(organisation_id, text)
    ]
    if QR_RE.search(text):
        problems.append(Problem("qr_code", _("不得含二维码或扫码还款的内容。")))
    return problems
