"""Synthetic people for demo data: names, ID numbers with valid GB 11643 check digits,
mobile numbers and addresses. Deterministic for a given seed; never real data."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from recoup.core.identity import id_check_char

# (administrative division code, province, city, districts, streets)
REGIONS: list[tuple[str, str, str, list[str]]] = [
    ("110105", "北京市", "北京市", ["朝阳区建国路", "朝阳区望京街", "朝阳区酒仙桥路"]),
    ("110108", "北京市", "北京市", ["海淀区中关村大街", "海淀区学院路", "海淀区西三环北路"]),
    ("310104", "上海市", "上海市", ["徐汇区漕溪北路", "徐汇区虹桥路", "徐汇区龙华中路"]),
    ("310115", "上海市", "上海市", ["浦东新区张杨路", "浦东新区世纪大道", "浦东新区川沙路"]),
    ("440106", "广东省", "广州市", ["天河区天河路", "天河区体育西路", "天河区中山大道"]),
    ("440305", "广东省", "深圳市", ["南山区科技园路", "南山区南海大道", "南山区蛇口工业路"]),
    ("330106", "浙江省", "杭州市", ["西湖区文三路", "西湖区天目山路", "西湖区古墩路"]),
    ("320102", "江苏省", "南京市", ["玄武区中山路", "玄武区北京东路", "玄武区珠江路"]),
    ("510107", "四川省", "成都市", ["武侯区人民南路", "武侯区科华北路", "武侯区一环路"]),
    ("420106", "湖北省", "武汉市", ["武昌区中南路", "武昌区武珞路", "武昌区和平大道"]),
    ("610113", "陕西省", "西安市", ["雁塔区小寨路", "雁塔区长安南路", "雁塔区科技路"]),
    ("370102", "山东省", "济南市", ["历下区泉城路", "历下区经十路", "历下区解放路"]),
]
EMPLOYERS = [
    "科技有限公司",
    "贸易有限公司",
    "餐饮管理有限公司",
    "物流有限公司",
    "建筑工程有限公司",
    "商贸中心",
    "电子商务有限公司",
    "医药连锁有限公司",
    "汽车服务有限公司",
    "文化传媒有限公司",
]
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "176",
    "177",
    "180",
    "181",
    "186",
    "187",
    "188",
    "189",
    "199",
]


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    gender: str
    province: str
    city: str
    home_address: str
    employer: str
    employer_address: str
    mobile: str


class PersonFactory:
    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        self.used_ids: set[str] = set()
        self.used_mobiles: set[str] = set()

    def id_number(self, region: str, born: date, gender: str) -> str:
        while True:
            seq = self.rng.randrange(0, 100)
            # The 17th digit is odd for men, even for women (GB 11643).
            last = self.rng.choice([1, 3, 5, 7, 9] if gender == "M" else [0, 2, 4, 6, 8])
            first17 = f"{region}{born:%Y%m%d}{seq:02d}{last}"
            value = first17 + id_check_char(first17)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value

    def mobile(self) -> str:
        while True:
            value = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(0, 10**8):08d}"
            if value not in self.used_mobiles:
                self.used_mobiles.add(value)
                return value

    def address(self, region: tuple[str, str, str, list[str]]) -> str:
        _code, province, city, streets = region
        prefix = city if province == city else province + city
        street, number = self.rng.choice(streets), self.rng.randrange(1, 300)
        building, floor, room = (
            self.rng.randrange(1, 40),
            self.rng.randrange(1, 30),
            self.rng.randrange(1, 6),
        )
        return f"{prefix}{street}{number}号{building}栋{floor}0{room}室"

    def person(self) -> Person:
        gender = self.rng.choice("MF")
        name = self.faker.name_male() if gender == "M" else self.faker.name_female()
        region = self.rng.choice(REGIONS)
        born = date(1965, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 38))
        work_region = region if self.rng.random() < 0.8 else self.rng.choice(REGIONS)
        employer = (
            work_region[2].removesuffix("市") + self.faker.last_name() + self.rng.choice(EMPLOYERS)
        )
        return Person(
            name=name,
            id_number=self.id_number(region[0], born, gender),
            gender=gender,
            province=region[1],
            city=region[2],
            home_address=self.address(region),
            employer=employer,
            employer_address=self.address(work_region),
            mobile=self.mobile(),
        )

    def contact_name(self) -> str:
        return self.faker.name()
