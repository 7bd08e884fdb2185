"""The compact planner and the fast `plan --json` writer change nothing anyone can see (issue 2).

Two oracles: ``reference_planner`` is the planner as it was before (one PlanDecision object per
decision, over the domain rules of ``reference_domain`` as they were), and ``json.dumps(decision.as_json(), ensure_ascii=False)`` is how `dunbot plan --json`
wrote each decision before. For any ledger, recorded steps, outbox contacts and ladder, the new
planner must give the same decisions in the same order, and the writer the same bytes.
"""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from decimal import Decimal

import reference_domain
from domain_factories import make_customer
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_planner import plan_customer as plan_customer_before_issue_2

from bot.domain.compliance import ContactCaps
from bot.domain.decisions import ContactRecord, CustomerPlan, ExecutionStatus
from bot.domain.fees import late_fee
from bot.domain.ladder import default_ladders, plan_customer
from bot.domain.ledger import (
    Channel,
    Contract,
    CustomerLedger,
    Invoice,
    InvoiceStatus,
    Payment,
    Promise,
    Tier,
)
from bot.domain.policy import CompliancePolicy, FeeTerms, LadderStep, PlanningPolicy
from bot.outreach.plan_json import SEPARATOR, PlanJsonEncoder, write_json_array
from bot.outreach.plan_workers import slice_sizes

AS_OF = date(2026, 6, 10)  # a Wednesday, a working day in China
EXAMPLES = settings(max_examples=300, deadline=None)

# Text that JSON must escape or that ensure_ascii=False keeps as it is.
awkward_text = st.text(
    alphabet=st.sampled_from(
        ['"', "\\", "\n", "\t", "\x00", "\x1f", "\u2028", "é", "客", "😀", "a", "1", "-"]
    ),
    min_size=1,
    max_size=8,
)
plain_ids = st.from_regex(r"[A-Z][0-9]{1,4}", fullmatch=True)
ids = st.one_of(plain_ids, awkward_text)

STEP_NAMES = st.one_of(
    st.sampled_from(["pre_due_reminder", "due_statement", "formal_notice", "lawyer_letter"]), awkward_text
)


@st.composite
def ladders(draw: st.DrawFn) -> tuple[LadderStep, ...]:
    """A ladder of 1 to 7 steps with distinct names, usually in day order."""
    names = draw(st.lists(STEP_NAMES, min_size=1, max_size=7, unique=True))
    days = sorted(draw(st.lists(st.integers(-10, 100), min_size=len(names), max_size=len(names))))
    if draw(st.integers(0, 9)) == 0:
        days = list(reversed(days))  # an unordered ladder still plans
    channel_sets = st.lists(st.sampled_from(list(Channel)), min_size=1, max_size=3, unique=True)
    return tuple(
        LadderStep(
            name,
            day,
            tuple(draw(channel_sets)),
            signed=draw(st.booleans()),
            approval=draw(st.integers(0, 4)) == 0,
        )
        for name, day in zip(names, days, strict=True)
    )


@st.composite
def policies(draw: st.DrawFn) -> PlanningPolicy:
    if draw(st.booleans()):
        ladder_of = default_ladders()
    else:
        ladder_of = {tactic: draw(ladders()) for tactic in default_ladders()}
    return PlanningPolicy(
        ladders=ladder_of,
        fees=FeeTerms(
            grace_days=draw(st.integers(0, 30)),
            daily_rate=draw(st.sampled_from([Decimal("0.001"), Decimal("0.0005"), Decimal(0)])),
            penalty_after_days=draw(st.integers(0, 60)),
        ),
        compliance=CompliancePolicy(max_messages_per_7d=draw(st.integers(1, 6))),
        demand_lead_days=draw(st.sampled_from([7, 7, 0, 1, 10])),
    )


@st.composite
def invoices(draw: st.DrawFn, number: str, customer_id: str) -> Invoice:
    due = AS_OF - timedelta(days=draw(st.integers(-20, 130)))
    issued = due - timedelta(days=draw(st.integers(-5, 45)))
    currency = draw(st.sampled_from(["CNY", "USD", "JPY", "KWD"]))
    amount = Decimal(draw(st.integers(0, 10_000_000))) / 100
    payments = tuple(
        Payment(
            f"{number}-P{i}",
            number,
            Decimal(draw(st.integers(1, 5_000_000))) / 100,
            AS_OF - timedelta(days=draw(st.integers(-10, 200))),
        )
        for i in range(draw(st.integers(0, 2)))
    )
    promise = None
    if draw(st.integers(0, 5)) == 0:
        promise = Promise(AS_OF + timedelta(days=draw(st.integers(-30, 10))), None)
    return Invoice(
        number=number,
        customer_id=customer_id,
        currency=currency,
        amount=amount,
        issue_date=issued,
        due_date=due,
        status=draw(st.sampled_from([InvoiceStatus.OPEN] * 6 + list(InvoiceStatus))),
        contract_ref=draw(st.sampled_from([None, None, "K1", "K2", "missing"])),
        payments=payments,
        promise=promise,
        paused_until=draw(
            st.sampled_from([None] * 6 + [AS_OF - timedelta(days=1), AS_OF, AS_OF + timedelta(days=3)])
        ),
    )


CONTRACTS = {
    "K1": Contract(
        "K1", grace_days=5, daily_rate=Decimal("0.0005"), penalty_rate=None, penalty_after_days=20
    ),
    "K2": Contract("K2", penalty_rate=Decimal("0.05")),
}


Situation = tuple[
    CustomerLedger,
    dict[str, dict[str, ExecutionStatus]],
    list[ContactRecord],
    PlanningPolicy,
    dict[str, dict[str, date | None]],
]


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    customer_id = draw(ids)
    customer = make_customer(
        id=customer_id,
        country=draw(st.sampled_from(["CN", "CN", "US", "XX"])),
        tier_override=draw(st.sampled_from([None, None, *Tier])),
        email=draw(st.sampled_from([None, "ap@acme.example"])),
        phone=draw(st.sampled_from([None, "+8613800000000"])),
        address=draw(st.sampled_from([None, "1 Nanjing Road"])),
        opted_out=draw(st.frozensets(st.sampled_from(list(Channel)), max_size=2)),
        do_not_contact=draw(st.integers(0, 19)) == 0,
        open_lawsuits=draw(st.integers(0, 1)),
        annual_revenue=draw(st.sampled_from([None, Decimal(5_000_000), Decimal(200_000_000)])),
        paused_until=draw(
            st.sampled_from([None] * 8 + [AS_OF - timedelta(days=1), AS_OF + timedelta(days=1)])
        ),
    )
    numbers = draw(st.lists(ids, min_size=0, max_size=8, unique=True))
    ledger = CustomerLedger(
        customer, tuple(draw(invoices(number, customer_id)) for number in numbers), CONTRACTS
    )
    policy = draw(policies())
    step_names = sorted({step.name for ladder in policy.ladders.values() for step in ladder})
    executions: dict[str, dict[str, ExecutionStatus]] = {}
    for number in numbers:
        done = draw(st.lists(st.sampled_from(step_names), max_size=3, unique=True))
        if done:
            executions[number] = {name: draw(st.sampled_from(list(ExecutionStatus))) for name in done}
    contacts = [
        ContactRecord(draw(st.sampled_from(list(Channel))), AS_OF - timedelta(days=draw(st.integers(-3, 8))))
        for _ in range(draw(st.integers(0, 6)))
    ]
    # Steps whose e-mail or letter went out, and the day (rule 2 counts the signed ones), or None
    # while one is still in the outbox.
    sent: dict[str, dict[str, date | None]] = {}
    for number in numbers:
        for name in draw(st.lists(st.sampled_from(step_names), max_size=3, unique=True)):
            sent.setdefault(number, {})[name] = draw(
                st.one_of(st.none(), st.integers(-3, 20).map(lambda days: AS_OF - timedelta(days=days)))
            )
    return ledger, executions, contacts, policy, sent


def old_json_objects(plan: CustomerPlan) -> list[str]:
    """How `dunbot plan --json` serialised each decision before the fast writer."""
    return [json.dumps(d.as_json(), ensure_ascii=False, default=str) for d in plan.decisions]


@EXAMPLES
@given(situation=situations(), day=st.integers(-3, 3))
def test_the_compact_planner_decides_exactly_what_the_old_one_did(
    situation: Situation,
    day: int,
) -> None:
    as_of = AS_OF + timedelta(days=day)  # weekends and holidays too
    plan = plan_customer(as_of, *situation)
    before = plan_customer_before_issue_2(as_of, *situation)
    assert plan.business_day is before.business_day
    assert plan.assessment == before.assessment
    assert plan.decisions == before.decisions
    assert plan.early_warnings == before.early_warnings
    assert plan.broken_promises == before.broken_promises
    assert plan.decision_count == len(plan.decisions)
    counts: dict[str, int] = {}
    for decision in plan.decisions:
        counts[decision.status.value] = counts.get(decision.status.value, 0) + 1
    assert {s.value: n for s, n in plan.status_counts().items()} == counts


@EXAMPLES
@given(situation=situations())
def test_the_fast_writer_gives_the_bytes_json_dumps_gave(
    situation: Situation,
) -> None:
    plan = plan_customer(AS_OF, *situation)
    text, count = PlanJsonEncoder().encode(plan)
    assert text == SEPARATOR.join(old_json_objects(plan))
    assert count == len(plan.decisions)
    assert json.loads(f"[{text}]") == [d.as_json() for d in plan.decisions]


@settings(max_examples=50, deadline=None)
@given(many=st.lists(situations(), max_size=5))
def test_the_array_is_what_the_old_cli_printed(
    many: list[Situation],
) -> None:
    plans = [plan_customer(AS_OF, *situation) for situation in many]
    out = io.StringIO()
    written = write_json_array(plans, out)

    # The CLI's loop before issue 2, verbatim.
    expected = io.StringIO()
    write = expected.write
    first = True
    write("[")
    for customer_plan in plans:
        for decision in customer_plan.decisions:
            write("\n  " if first else ",\n  ")
            write(json.dumps(decision.as_json(), ensure_ascii=False, default=str))
            first = False
    write("\n]\n" if not first else "]\n")

    assert out.getvalue() == expected.getvalue()
    assert written == sum(len(plan.decisions) for plan in plans)
    assert json.loads(out.getvalue()) == [d.as_json() for plan in plans for d in plan.decisions]


@settings(max_examples=300, deadline=None)
@given(
    contacts=st.lists(
        st.tuples(st.sampled_from(list(Channel)), st.integers(-10, 10)).map(
            lambda c: ContactRecord(c[0], AS_OF + timedelta(days=c[1]))
        ),
        max_size=8,
    ),
    steps=st.lists(
        st.tuples(
            st.lists(st.sampled_from(list(Channel)), min_size=1, max_size=3, unique=True), st.integers(-2, 2)
        ),
        min_size=1,
        max_size=5,
    ),
    cap=st.integers(1, 6),
)
def test_the_caps_answer_as_before(
    contacts: list[ContactRecord], steps: list[tuple[list[Channel], int]], cap: int
) -> None:
    policy = CompliancePolicy(max_messages_per_7d=cap)
    new, old = ContactCaps(contacts, policy), reference_domain.ContactCaps(contacts, policy)
    for channels, offset in steps:
        on = AS_OF + timedelta(days=offset)
        answer = new.check(tuple(channels), on)
        assert answer == old.check(tuple(channels), on)
        if answer[0]:
            new.add(channels, on)
            old.add(channels, on)


@settings(max_examples=300, deadline=None)
@given(
    outstanding=st.decimals(min_value=-100, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    days=st.integers(-30, 400),
    grace=st.integers(0, 40),
    daily=st.decimals(min_value=-1, max_value=1, places=4, allow_nan=False, allow_infinity=False),
    penalty=st.decimals(min_value=-1, max_value=1, places=3, allow_nan=False, allow_infinity=False),
    after=st.integers(0, 90),
    currency=st.sampled_from(["CNY", "JPY", "KWD", "XXX"]),
)
def test_late_fees_are_as_before(
    outstanding: Decimal, days: int, grace: int, daily: Decimal, penalty: Decimal, after: int, currency: str
) -> None:
    terms = FeeTerms(grace_days=grace, daily_rate=daily, penalty_rate=penalty, penalty_after_days=after)
    new, old = (
        late_fee(outstanding, days, terms, currency),
        reference_domain.late_fee(outstanding, days, terms, currency),
    )
    assert (new, str(new)) == (old, str(old))


@settings(max_examples=200, deadline=None)
@given(customers=st.integers(0, 50_000), size=st.integers(1, 6000), workers=st.integers(1, 8))
def test_slices_cover_every_customer_and_shrink_towards_the_end(
    customers: int, size: int, workers: int
) -> None:
    sizes = slice_sizes(customers, size, workers)
    assert sum(sizes) == customers
    assert all(0 < n <= size for n in sizes)
    assert sizes == sorted(sizes, reverse=True)
    assert all(n >= max(1, size // 4) for n in sizes[:-1])
