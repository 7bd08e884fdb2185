"""A deterministic sample ledger for `dunbot demo`: about 60 customers and 400 invoices.

Three credit profiles (a reliable payer, an average one, a risky one) give the three tiers through
the scorecard itself, plus a few explicit ``tier`` overrides; customers are Chinese (zh-CN) and
foreign (en) in seven countries. On the plan date every step of every ladder has invoices due
exactly that day, and there is history (paid on time, paid late, partial and over-payments), a few
disputes and promises to pay (one of them already broken). The same date and seed always give
byte-identical files.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

from bot.domain.ladder import default_ladders

CUSTOMER_HEADER = [
    "id",
    "name",
    "tax_id",
    "tier",
    "country",
    "timezone",
    "language",
    "email",
    "phone",
    "address",
    "account_manager",
    "payment_terms_days",
    "credit_limit",
    "industry",
    "annual_revenue",
    "open_lawsuits",
    "do_not_contact",
]
INVOICE_HEADER = [
    "number",
    "customer_id",
    "currency",
    "amount",
    "issue_date",
    "due_date",
    "contract_ref",
    "status",
]
PAYMENT_HEADER = ["reference", "invoice_number", "amount", "paid_on"]
CONTRACT_HEADER = ["ref", "grace_days", "daily_rate", "penalty_rate", "penalty_after_days", "jurisdiction"]


@dataclass(frozen=True, slots=True)
class DemoLedgerFiles:
    """The four CSV files and the collector facts the demo records after importing them."""

    customers: Path
    contracts: Path
    invoices: Path
    payments: Path
    promises: list[tuple[str, date, Decimal | None]]
    disputes: list[str]


@dataclass(frozen=True, slots=True)
class _Country:
    code: str
    timezone: str
    currency: str
    language: str
    phone_prefix: str  # a valid mobile number of the country without its last two digits
    address: str


_COUNTRIES = (
    _Country("CN", "Asia/Shanghai", "CNY", "zh-CN", "+86131234567", "上海市浦东新区世纪大道 {n} 号"),
    _Country("US", "America/New_York", "USD", "en", "+120155501", "{n} Madison Avenue, New York, NY 10010"),
    _Country("GB", "Europe/London", "GBP", "en", "+4474001234", "{n} Dock Road, London E16 1AG"),
    _Country("DE", "Europe/Berlin", "EUR", "en", "+49151234567", "Hafenstraße {n}, 20457 Hamburg"),
    _Country("SG", "Asia/Singapore", "SGD", "en", "+65812345", "{n} Pasir Panjang Road, Singapore 118479"),
    _Country("JP", "Asia/Tokyo", "JPY", "en", "+8190123456", "{n}-1 Shibaura, Minato-ku, Tokyo 108-0023"),
    _Country("HK", "Asia/Hong_Kong", "HKD", "en", "+852512345", "{n} Connaught Road Central, Hong Kong"),
)

_CHINESE_NAMES = tuple(
    [
        "杭州远航贸易",
        "上海恒通机电设备",
        "深圳南山科技",
        "苏州工业园精密制造",
        "宁波港联物流",
        "北京华信通信",
        "广州珠江建设工程",
        "成都天府酒店管理",
        "武汉长江电力设备",
        "南京紫金零售",
        "天津渤海化工",
        "重庆山城汽配",
        "厦门海峡国际贸易",
        "青岛啤酒城商贸",
        "西安古城文旅",
        "长沙湘江机械",
        "合肥科大电子",
        "郑州中原物流",
        "济南泉城建材",
        "沈阳北方重工",
        "大连港湾船舶",
        "昆明滇池园林",
        "福州闽江纺织",
        "无锡太湖环保",
        "东莞松山湖模具",
        "佛山顺德家电",
        "温州瓯江鞋业",
        "绍兴越城印染",
        "嘉兴南湖食品",
        "常州龙城光伏",
        "珠海横琴地产",
        "中山火炬照明",
        "烟台芝罘果业",
        "潍坊风筝制造",
        "扬州运河置业",
        "南通江海纺机",
    ]
)
_ENGLISH_NAMES = (
    "Harbour Trading",
    "Bright Harbour",
    "Northwind Logistics",
    "Atlas Construction",
    "Crown Hospitality",
    "Meridian Utilities",
    "Pioneer Retail",
    "Summit Manufacturing",
    "Keystone Telecom",
    "Riverside Realty",
    "Blue Anchor Shipping",
    "Evergreen Supplies",
    "Silverline Electronics",
    "Oakridge Builders",
    "Lighthouse Hotels",
    "Granite Engineering",
    "Redwood Retail",
    "Beacon Energy",
    "Cedar Logistics",
    "Falcon Components",
    "Horizon Foods",
    "Ironbridge Works",
    "Juniper Textiles",
    "Kestrel Aviation",
)

# Profiles steer the scorecard (DESIGN §3): history, lateness, scale, industry, lawsuits.
_PROFILES = {
    "reliable": {
        "late_share": 0.0,
        "late_days": (0, 0),
        "revenue": "250000000",
        "industries": ("utilities", "government", "telecommunications"),
        "lawsuits": 0,
    },
    "average": {
        "late_share": 0.5,
        "late_days": (15, 45),
        "revenue": "50000000",
        "industries": ("manufacturing", "retail", "logistics"),
        "lawsuits": 0,
    },
    "risky": {
        "late_share": 0.8,
        "late_days": (40, 90),
        "revenue": "5000000",
        "industries": ("construction", "real_estate", "hospitality"),
        "lawsuits": 1,
    },
}
_TACTIC_OF_PROFILE = {"reliable": "consultative", "average": "procedural", "risky": "preservation"}
_EXPLICIT_TIER = {4: "strategic", 11: "cooperative", 17: "cautious", 29: "cooperative", 44: "cautious"}


def generate_demo_ledger(out_dir: Path, as_of: date, *, seed: int = 7) -> DemoLedgerFiles:
    """Write customers, contracts, invoices and payments CSV files for plan date ``as_of``."""
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    ladders = {tactic.value: [step.day for step in steps] for tactic, steps in default_ladders().items()}
    contracts = [
        ["K-STD", "", "", "", "", "上海市浦东新区人民法院"],
        ["K-STRICT", "10", "0.0005", "0.03", "45", "上海国际经济贸易仲裁委员会"],
        ["K-EXPORT", "20", "0.0003", "0.02", "60", "Hong Kong International Arbitration Centre"],
    ]
    customers: list[list[str]] = []
    invoices: list[list[str]] = []
    payments: list[list[str]] = []
    open_numbers: list[str] = []
    chinese, foreign = iter(_CHINESE_NAMES), iter(_ENGLISH_NAMES)
    invoice_no = payment_no = 0

    def add_invoice(customer_id: str, country: _Country, terms: int, due: date, amount: Decimal) -> str:
        nonlocal invoice_no
        invoice_no += 1
        number = f"INV-{as_of.year}-{invoice_no:04d}"
        contract = (
            rng.choice(("", "", "K-STD", "K-STRICT"))
            if country.code == "CN"
            else rng.choice(("", "K-EXPORT"))
        )
        invoices.append(
            [number, customer_id, country.currency, _money(amount, country.currency),
             (due - timedelta(days=terms)).isoformat(), due.isoformat(), contract, "open"]
        )  # fmt: skip
        return number

    def pay(number: str, amount: Decimal, currency: str, on: date) -> None:
        nonlocal payment_no
        payment_no += 1
        payments.append([f"PAY-{payment_no:05d}", number, _money(amount, currency), on.isoformat()])

    for index in range(60):
        profile = ("reliable", "average", "risky")[index % 3]
        shape = _PROFILES[profile]
        country = _COUNTRIES[0] if index % 5 < 3 else _COUNTRIES[1 + index % 6]
        name = f"{next(chinese)}有限公司" if country.language == "zh-CN" else f"{next(foreign)} Ltd."
        customer_id = f"C-{index + 1:04d}"
        terms = rng.choice((30, 45, 60))
        slug = f"c{index + 1:04d}"
        domain = f"{slug}.com.cn" if country.code == "CN" else f"{slug}-trading.com"
        customers.append(
            [
                customer_id,
                name,
                f"91310000MA{index:07d}X" if country.code == "CN" else f"{country.code}{100000 + index * 37}",
                _EXPLICIT_TIER.get(index, ""),
                country.code,
                country.timezone,
                country.language,
                f"ap@{domain}",
                f"{country.phone_prefix}{index:02d}" if index % 13 != 12 else "",  # a few have no mobile
                country.address.format(n=index + 1),
                f"am{index % 4 + 1}@xinghe.com.cn" if profile != "risky" else "",
                str(terms),
                _money(Decimal(rng.choice((200000, 500000, 1000000))), country.currency),
                rng.choice(shape["industries"]),  # type: ignore[arg-type]
                str(shape["revenue"]),
                str(shape["lawsuits"]),
                "true" if index in (23, 52) else "false",
            ]
        )
        base = (
            Decimal(rng.randrange(8_000, 180_000))
            if country.currency != "JPY"
            else Decimal(rng.randrange(800_000, 9_000_000))
        )
        # History: four invoices paid in the last year, on time or late per the profile.
        for k in range(4):
            due = as_of - timedelta(days=60 + k * 55 + rng.randrange(0, 20))
            amount = _round(base * Decimal(rng.randrange(60, 140)) / 100, country.currency)
            number = add_invoice(customer_id, country, terms, due, amount)
            late = rng.random() < float(shape["late_share"])  # type: ignore[arg-type]
            low, high = cast(tuple[int, int], shape["late_days"])
            paid_on = (
                due + timedelta(days=rng.randint(low, high))
                if late
                else due - timedelta(days=rng.randint(0, 5))
            )
            paid_on = min(paid_on, as_of - timedelta(days=1))  # history: paid before the plan date
            if k == 0 and index % 7 == 0:
                pay(number, amount, country.currency, paid_on)
                pay(
                    number,
                    Decimal("10.00") if country.currency != "JPY" else Decimal(1000),
                    country.currency,
                    paid_on,
                )
            elif k == 1 and index % 4 == 0:  # paid in two instalments
                first = _round(amount * Decimal("0.4"), country.currency)
                pay(number, first, country.currency, paid_on - timedelta(days=10))
                pay(number, amount - first, country.currency, paid_on)
            else:
                pay(number, amount, country.currency, paid_on)
        # A reliable or average payer's most recent invoice due before the plan date was paid on time,
        # so two late invoices in a row (trend overdue) do not pull it down a tier.
        if profile != "risky":
            due = as_of - timedelta(days=1 + rng.randrange(0, 3))
            amount = _round(base, country.currency)
            pay(add_invoice(customer_id, country, terms, due, amount), amount, country.currency, due)
        # Open invoices: one exactly at a step of the customer's ladder, one or two in between.
        days = ladders[_TACTIC_OF_PROFILE[profile]]
        stage = days[(index // 3) % len(days)]
        amount = _round(base * Decimal(rng.randrange(50, 150)) / 100, country.currency)
        number = add_invoice(customer_id, country, terms, as_of - timedelta(days=stage), amount)
        open_numbers.append(number)
        if index % 6 == 5:  # a part payment: still owed, still dunned
            pay(
                number,
                _round(amount * Decimal("0.3"), country.currency),
                country.currency,
                as_of - timedelta(days=1),
            )
        for _ in range(rng.choice((1, 1, 2))):
            offset = rng.choice((-20, -12, 1, 5, 10, 20, 25, 38, 50, 75))
            if offset in days:
                offset += 1
            amount = _round(base * Decimal(rng.randrange(20, 120)) / 100, country.currency)
            open_numbers.append(
                add_invoice(customer_id, country, terms, as_of - timedelta(days=offset), amount)
            )

    # Every step of every ladder is due on the plan date for at least one invoice.
    by_tactic = {"consultative": 0, "procedural": 1, "preservation": 2}
    for tactic, days in ladders.items():
        for position, day in enumerate(days):
            index = by_tactic[tactic] + 3 * ((position * 5 + 1) % 20)
            row = customers[index]
            if row[3] or row[16] == "true":
                continue  # overrides and do-not-contact customers are not this ladder's witnesses
            country = next(c for c in _COUNTRIES if c.code == row[4])
            amount = _round(
                Decimal(rng.randrange(5_000, 90_000)) * (100 if country.currency == "JPY" else 1),
                country.currency,
            )
            open_numbers.append(
                add_invoice(row[0], country, int(row[11]), as_of - timedelta(days=day), amount)
            )

    overdue = [n for n in open_numbers if _due_of(invoices, n) < as_of]
    disputes = [overdue[4], overdue[21], overdue[40]]
    promise_candidates = [n for n in overdue if n not in disputes]
    promises: list[tuple[str, date, Decimal | None]] = [
        (promise_candidates[2], as_of + timedelta(days=7), None),
        (promise_candidates[9], as_of + timedelta(days=14), Decimal("5000.00")),
        (promise_candidates[17], as_of + timedelta(days=3), None),
        (promise_candidates[30], as_of - timedelta(days=5), None),  # passed unpaid: a broken promise
    ]
    folder = out_dir
    return DemoLedgerFiles(
        customers=_write(folder / "customers.csv", CUSTOMER_HEADER, customers),
        contracts=_write(folder / "contracts.csv", CONTRACT_HEADER, contracts),
        invoices=_write(folder / "invoices.csv", INVOICE_HEADER, invoices),
        payments=_write(folder / "payments.csv", PAYMENT_HEADER, payments),
        promises=promises,
        disputes=disputes,
    )


def _due_of(invoices: list[list[str]], number: str) -> date:
    return next(date.fromisoformat(row[5]) for row in invoices if row[0] == number)


def _round(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1) if currency == "JPY" else Decimal("0.01"))


def _money(amount: Decimal, currency: str) -> str:
    return f"{_round(amount, currency):f}"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path
