"""The Recoup fields a bank file can fill, per file kind, and the headers banks use for them.

A mapping (``ColumnMapping.columns``) is ``{header: field}``, where field is one of the names
below, ``"custom"`` (kept, sealed, as a custom field of the case) or ``"ignore"``.
``suggest_mapping`` builds a first mapping from the headers by synonyms; ``check_mapping``
says what is missing or doubled before anything is imported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CUSTOM = "custom"
IGNORE = "ignore"
MAX_CONTACTS = 5


@dataclass(frozen=True)
class Field:
    name: str
    label: object  # lazy translation
    required: bool = False
    synonyms: tuple[str, ...] = ()


def _contact_fields() -> list[Field]:
    fields = []
    for i in range(1, MAX_CONTACTS + 1):
        fields += [
            Field(
                f"contact{i}_name",
                format_lazy(gettext_lazy("联系人{n}姓名"), n=i),
                synonyms=(f"联系人{i}姓名", f"联系人{i}", f"联系人姓名{i}", f"紧急联系人{i}姓名"),
            ),
            Field(
                f"contact{i}_relation",
                format_lazy(gettext_lazy("联系人{n}关系"), n=i),
                synonyms=(f"联系人{i}关系", f"关系{i}", f"联系人关系{i}", f"紧急联系人{i}关系"),
            ),
            Field(
                f"contact{i}_phone",
                format_lazy(gettext_lazy("联系人{n}电话"), n=i),
                synonyms=(
                    f"联系人{i}电话",
                    f"联系人{i}手机",
                    f"联系人电话{i}",
                    f"紧急联系人{i}电话",
                ),
            ),
        ]
    return fields


CASE_FIELDS: list[Field] = [
    Field(
        "client_case_number",
        gettext_lazy("委托方案件号"),
        True,
        (
            "案件号",
            "委案编号",
            "案件编号",
            "客户编号",
            "合同号",
            "借据号",
            "case no",
            "case number",
        ),
    ),
    Field(
        "name",
        gettext_lazy("客户姓名"),
        True,
        ("姓名", "客户名称", "债务人姓名", "持卡人姓名", "name"),
    ),
    Field(
        "id_number",
        gettext_lazy("证件号码"),
        True,
        ("身份证号", "身份证号码", "证件号", "身份证", "id number", "id no"),
    ),
    Field("product", gettext_lazy("产品"), False, ("产品类型", "业务类型", "product")),
    Field(
        "account_number",
        gettext_lazy("卡号/账号"),
        True,
        ("卡号", "账号", "贷款账号", "信用卡号", "借据编号", "account number", "card number"),
    ),
    Field("principal", gettext_lazy("本金"), True, ("欠款本金", "逾期本金", "principal")),
    Field("interest", gettext_lazy("利息"), False, ("欠款利息", "逾期利息", "interest")),
    Field("fees", gettext_lazy("费用"), False, ("滞纳金", "手续费", "费用合计", "fees")),
    Field(
        "total_owed",
        gettext_lazy("欠款总额"),
        False,
        ("欠款金额", "应还总额", "委案金额", "逾期金额", "total", "total owed"),
    ),
    Field("overdue_days", gettext_lazy("逾期天数"), False, ("逾期天", "账龄天数", "days overdue")),
    Field(
        "overdue_since",
        gettext_lazy("逾期起始日"),
        False,
        ("逾期日期", "首次逾期日", "逾期开始日期"),
    ),
    Field("stage", gettext_lazy("逾期阶段"), False, ("账龄", "逾期期数", "stage", "bucket")),
    Field(
        "mobile",
        gettext_lazy("手机号"),
        False,
        ("手机", "手机号码", "联系电话", "本人电话", "mobile"),
    ),
    Field("home_phone", gettext_lazy("住宅电话"), False, ("家庭电话", "住宅电话号码")),
    Field(
        "home_address", gettext_lazy("家庭地址"), False, ("住址", "居住地址", "户籍地址", "address")
    ),
    Field("employer", gettext_lazy("单位名称"), False, ("工作单位", "公司名称", "employer")),
    Field("employer_address", gettext_lazy("单位地址"), False, ("公司地址", "工作地址")),
    Field("employer_phone", gettext_lazy("单位电话"), False, ("公司电话", "工作电话")),
    Field("email", gettext_lazy("电子邮箱"), False, ("邮箱", "email")),
    Field("province", gettext_lazy("省份"), False, ("省", "所在省份")),
    Field("city", gettext_lazy("城市"), False, ("市", "所在城市")),
    *_contact_fields(),
]


def _case_field(name: str) -> Field:
    return next(f for f in CASE_FIELDS if f.name == name)


KIND_FIELDS: dict[str, list[Field]] = {
    "cases": CASE_FIELDS,
    "balances": [
        CASE_FIELDS[0],
        Field("principal", gettext_lazy("本金"), False, ("欠款本金",)),
        Field("interest", gettext_lazy("利息"), False, ("欠款利息",)),
        Field("fees", gettext_lazy("费用"), False, ("滞纳金",)),
        Field("total_owed", gettext_lazy("欠款总额"), True, ("欠款金额", "最新欠款", "应还总额")),
        Field("as_of", gettext_lazy("余额日期"), False, ("截至日期", "数据日期")),
    ],
    "recalls": [
        CASE_FIELDS[0],
        Field("reason", gettext_lazy("撤案原因"), False, ("原因",)),
        Field("effective_on", gettext_lazy("撤案日期"), False, ("日期",)),
    ],
    "closures": [
        CASE_FIELDS[0],
        Field("reason", gettext_lazy("结案原因"), False, ("原因",)),
        Field("effective_on", gettext_lazy("结案日期"), False, ("日期",)),
    ],
    "repayments": [
        Field(
            "transaction_id",
            gettext_lazy("交易流水号"),
            True,
            ("流水号", "交易号", "transaction id"),
        ),
        replace(_case_field("client_case_number"), required=False),
        replace(_case_field("account_number"), required=False),
        replace(_case_field("id_number"), required=False),
        Field("amount", gettext_lazy("还款金额"), True, ("金额", "回款金额", "入账金额")),
        Field("paid_at", gettext_lazy("还款日期"), True, ("还款时间", "入账日期", "交易日期")),
        Field("channel", gettext_lazy("还款渠道"), False, ("渠道",)),
    ],
}

# Some fields are required as a group: a repayment must name its case one way or another.
ANY_OF: dict[str, list[tuple[str, ...]]] = {
    "repayments": [("client_case_number", "account_number", "id_number")],
    "cases": [],
    "balances": [],
    "recalls": [],
    "closures": [],
}


def _key(header: str) -> str:
    """Compare headers loosely: no spaces, punctuation or case; full-width folded."""
    folded = header.translate(str.maketrans("０１２３４５６７８９（）：", "0123456789():"))
    return re.sub(r"[\s_\-:：()（）/／*＊]", "", folded).lower()


def fields_for(kind: str) -> list[Field]:
    return KIND_FIELDS[kind]


def suggest_mapping(headers: list[str], kind: str) -> dict[str, str]:
    """A first mapping by name and synonyms; unknown headers become custom fields."""
    index: dict[str, str] = {}
    for field in fields_for(kind):
        for word in (field.name, str(field.label), *field.synonyms):
            index.setdefault(_key(word), field.name)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for header in headers:
        field_name = index.get(_key(header))
        if field_name and field_name not in taken:
            mapping[header] = field_name
            taken.add(field_name)
        else:
            mapping[header] = CUSTOM
    return mapping


def check_mapping(mapping: dict[str, str], headers: list[str], kind: str) -> list[str]:
    """Problems that block an import with this mapping (translated, for the UI and API)."""
    problems: list[str] = []
    known = {f.name: f for f in fields_for(kind)}
    targets = [f for f in mapping.values() if f not in (CUSTOM, IGNORE)]
    for name in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(_("字段“%(field)s”被映射了多次。") % {"field": known[name].label})
    for name in sorted(set(targets) - set(known)):
        problems.append(_("未知字段：%(field)s") % {"field": name})
    for header in mapping:
        if header not in headers:
            problems.append(_("文件中没有列“%(header)s”。") % {"header": header})
    for field in known.values():
        if field.required and field.name not in targets:
            problems.append(_("缺少必填字段“%(field)s”。") % {"field": field.label})
    for group in ANY_OF.get(kind, []):
        if not set(group) & set(targets):
            labels = _("、").join(str(known[g].label) for g in group)
            problems.append(_("至少需要以下字段之一：%(fields)s") % {"fields": labels})
    if kind == "cases" and "overdue_days" not in targets and "overdue_since" not in targets:
        problems.append(_("需要“逾期天数”或“逾期起始日”之一。"))
    return problems
