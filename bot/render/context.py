"""The context every message template receives, and an example of it.

Templates may use only these names (the environment is ``StrictUndefined``). Amounts are preformatted
strings ("100,000.00"), dates are ``YYYY-MM-DD`` strings: formatting money is the caller's job, so a
template can never round or reformat a number. ``templates/README.md`` describes the same contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TypedDict


class CompanyContext(TypedDict):
    """The creditor, from ``[company]`` in the config; for an English customer the name, legal name,
    address and bank account come from ``[company.en]`` when it is set."""

    name: str
    legal_name: str
    address: str
    phone: str
    email: str
    bank_account: str
    contact_person: str  # who answers questions about the notice; "" when not configured


class CustomerContext(TypedDict):
    """The debtor; ``account_manager`` is an e-mail address or ""."""

    id: str
    name: str
    account_manager: str


class StepContext(TypedDict):
    """The ladder step being executed; ``day`` counts from the due date."""

    name: str
    day: int


class InvoiceLine(TypedDict):
    """One invoice in the message; ``days_overdue`` is negative before the due date."""

    number: str
    currency: str
    amount: str
    outstanding: str
    issue_date: str
    due_date: str
    days_overdue: int
    late_fee: str


class CurrencyTotal(TypedDict):
    """Sums over the message's invoices in one currency."""

    currency: str
    outstanding: str
    late_fee: str


class ContractTerms(TypedDict):
    """The contract terms the message relies on, for the invoices listed in ``invoices``.

    ``ref`` is "" for invoices under the company's default terms (no contract on file). Rates are
    preformatted percentages ("0.1%"); ``jurisdiction`` is "" when the contract names none.
    """

    ref: str
    invoices: list[str]
    grace_days: int
    daily_rate: str
    penalty_rate: str
    penalty_after_days: int
    jurisdiction: str


class MessageContext(TypedDict):
    """Everything a message template may use."""

    company: CompanyContext
    customer: CustomerContext
    step: StepContext
    as_of: str
    reference: str
    notice_attached: bool
    invoices: list[InvoiceLine]
    totals: list[CurrencyTotal]
    contracts: list[ContractTerms]


def example_context(language: str = "zh-CN", *, invoice_count: int = 3) -> MessageContext:
    """Return a realistic context (1 to 3 invoices; with 3, two currencies) for previews and checks."""
    if not 1 <= invoice_count <= 3:
        raise ValueError("invoice_count must be 1, 2 or 3")
    chinese = language.lower().startswith("zh")
    invoices: list[InvoiceLine] = [
        InvoiceLine(
            number="INV-2024-0101",
            currency="CNY",
            amount="100,000.00",
            outstanding="100,000.00",
            issue_date="2024-05-02",
            due_date="2024-06-01",
            days_overdue=40,
            late_fee="4,500.00",
        ),
        InvoiceLine(
            number="INV-2024-0117",
            currency="CNY",
            amount="80,000.00",
            outstanding="30,000.00",
            issue_date="2024-05-20",
            due_date="2024-06-19",
            days_overdue=22,
            late_fee="210.00",
        ),
        InvoiceLine(
            number="INV-2024-0123",
            currency="USD",
            amount="12,500.00",
            outstanding="12,500.00",
            issue_date="2024-06-01",
            due_date="2024-07-01",
            days_overdue=10,
            late_fee="0.00",
        ),
    ][:invoice_count]
    totals: list[CurrencyTotal] = []
    for currency in dict.fromkeys(line["currency"] for line in invoices):
        lines = [line for line in invoices if line["currency"] == currency]
        totals.append(
            CurrencyTotal(
                currency=currency,
                outstanding=_sum_formatted(line["outstanding"] for line in lines),
                late_fee=_sum_formatted(line["late_fee"] for line in lines),
            )
        )
    return MessageContext(
        company=CompanyContext(
            name="星河精密" if chinese else "Xinghe Precision",
            legal_name=(
                "上海星河精密机械有限公司" if chinese else "Shanghai Xinghe Precision Machinery Co., Ltd."
            ),
            address="上海市浦东新区张江路 88 号" if chinese else "88 Zhangjiang Road, Pudong, Shanghai",
            phone="021-5080 1234",
            email="ar@xinghe.example",
            bank_account=(
                "工商银行张江支行 1001 2345 6789 0123"
                if chinese
                else "ICBC Zhangjiang Branch, A/C 1001 2345 6789 0123, SWIFT ICBKCNBJSHI"
            ),
            contact_person="应收账款部 王芳" if chinese else "Wang Fang, Accounts Receivable",
        ),
        customer=CustomerContext(
            id="C-0042",
            name="杭州远航贸易有限公司" if chinese else "Harbour Trading Ltd.",
            account_manager="li.wei@xinghe.example",
        ),
        step=StepContext(name="formal_notice", day=15),
        as_of="2024-07-11",
        reference="XH-2024-000123",
        notice_attached=True,
        invoices=invoices,
        totals=totals,
        contracts=_example_contracts(invoices, chinese),
    )


def _example_contracts(invoices: list[InvoiceLine], chinese: bool) -> list[ContractTerms]:
    # The first invoice is under contract XH-2024-017, the others under the default terms.
    contracts = [
        ContractTerms(
            ref="XH-2024-017",
            invoices=[invoices[0]["number"]],
            grace_days=15,
            daily_rate="0.1%",
            penalty_rate="2%",
            penalty_after_days=30,
            jurisdiction="上海市浦东新区人民法院" if chinese else "the courts of Shanghai",
        )
    ]
    if len(invoices) > 1:
        contracts.append(
            ContractTerms(
                ref="",
                invoices=[line["number"] for line in invoices[1:]],
                grace_days=15,
                daily_rate="0.1%",
                penalty_rate="2%",
                penalty_after_days=30,
                jurisdiction="",
            )
        )
    return contracts


def _sum_formatted(amounts: Iterable[str]) -> str:
    # Example data only: production contexts are formatted from Decimal by the caller.
    total = sum((Decimal(amount.replace(",", "")) for amount in amounts), Decimal("0"))
    return f"{total:,.2f}"
