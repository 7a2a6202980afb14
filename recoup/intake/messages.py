"""Rendering an import issue's message in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

from recoup.cases.models import StopListEntry
from recoup.intake import normalise, readers

FILTER_MESSAGES = {
    "duplicate_in_file": gettext_noop("案件号与文件中前面的行重复，本行未导入。"),
    "case_exists": gettext_noop("该委托方案件号在本协议下已存在，本行未导入。"),
    "stop_listed": gettext_noop("债务人在停催名单上（%(reason)s），案件已导入并停催。"),
    "internal": gettext_noop("导入时发生内部错误，未导入任何数据，可重试。"),
    "no_case_match": gettext_noop("按案件号、卡号/账号或证件号码都找不到对应案件。"),
    "duplicate_transaction": gettext_noop("该交易流水号已收到过，本行未重复记录。"),
    "case_already_closed": gettext_noop("案件已结束，本行未作更改。"),
}


def issue_message(code: str, params: dict[str, str]) -> str:
    if code == "stop_listed" and params.get("reason") in StopListEntry.Reason.values:
        params = {**params, "reason": str(StopListEntry.Reason(params["reason"]).label)}
    for table in (FILTER_MESSAGES, normalise.MESSAGES, readers.MESSAGES):
        if code in table:
            try:
                return gettext(table[code]) % params
            except (KeyError, TypeError, ValueError):
                return gettext(table[code])
    return code
