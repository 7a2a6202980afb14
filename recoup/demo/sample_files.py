"""A synthetic bank file to try the intake with (never real data)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from recoup.demo.synthetic import PersonFactory

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
    "单位地址",
    "联系人1姓名",
    "联系人1关系",
    "联系人1电话",
    "客户等级",
]


def write_sample_bank_file(path: Path, *, rows: int = 200, seed: int = 11) -> Path:
    """A GB18030 CSV in a bank's own layout, with a few bad rows and a duplicate."""
    rng = random.Random(seed)
    people = PersonFactory(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for i in range(rows):
            p = people.person()
            principal = rng.randrange(2_000, 150_000)
            record = [
                f"S{2611}{i:06d}",
                p.name,
                p.id_number,
                f"6225 88{rng.randrange(10**9, 10**10)}",
                f"{principal:,}.{rng.randrange(100):02d}",
                f"¥{rng.randrange(50, 5000)}.00",
                f"{rng.randrange(0, 300)}元",
                str(rng.randrange(1, 400)),
                p.mobile,
                p.home_address,
                p.employer,
                p.employer_address,
                people.contact_name(),
                rng.choice(["配偶", "父亲", "母亲", "同事", "朋友"]),
                people.mobile(),
                rng.choice(["A", "B", "C"]),
            ]
            if i % 50 == 7:
                record[2] = record[2][:-1] + (
                    "0" if record[2][-1] != "0" else "1"
                )  # bad check digit
            if i % 50 == 21:
                record[4] = "-" + record[4]  # negative principal
            if i == 30:
                record[0] = "S2611000001"  # repeats row 2's case number
            out.writerow(record)
    return path
