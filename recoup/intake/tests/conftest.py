"""Bank files for the intake tests, built in memory."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from tests.fixtures import make_id_number

HEADERS = [
    "案件编号",
    "客户姓名",
    "身份证号",
    "卡号",
    "本金",
    "利息",
    "滞纳金",
    "逾期天数",
    "手机号",
    "家庭地址",
    "单位名称",
    "联系人1姓名",
    "联系人1关系",
    "联系人1电话",
    "客户等级",
]


def row(
    n: int,
    *,
    serial: int | None = None,
    name: str = "王小明",
    principal: str = "10,000.50",
    phone: str = "+86 139-0000-0001",
    days: str = "45",
    id_number: str | None = None,
) -> list[str]:
    ident = (
        id_number
        if id_number is not None
        else make_id_number(serial if serial is not None else 100 + n, "19900101")
    )
    return [
        f"N{n:05d}",
        name,
        ident,
        f"6225 8800 0000 {n:04d}",
        principal,
        "¥120.30",
        "50元",
        days,
        phone,
        "上海市浦东新区世纪大道100号",
        "示例贸易有限公司",
        "李四",
        "配偶",
        "13800000002",
        "VIP",
    ]


def csv_bytes(
    rows: list[list[str]], *, headers: list[str] = HEADERS, encoding: str = "utf-8"
) -> bytes:
    text = (
        "\n".join(",".join(f'"{c}"' if "," in c else c for c in r) for r in [headers, *rows]) + "\n"
    )
    return text.encode(encoding)


@pytest.fixture
def bank_file() -> Callable[..., io.BytesIO]:
    def make(rows: list[list[str]], **kw: object) -> io.BytesIO:
        return io.BytesIO(csv_bytes(rows, **kw))  # type: ignore[arg-type]

    return make
