"""Planning an invoice (DESIGN §4): one concrete scenario per rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from domain_factories import TUESDAY, customer_at, due_for, make_invoice, make_ledger, make_policy

from bot.domain.decisions import ContactRecord, CustomerPlan, DecisionStatus, ExecutionStatus, PlanDecision
from bot.domain.ladder import default_ladders, due_step_index, plan_customer, plan_day
from bot.domain.ledger import Channel, Contract, CustomerLedger, InvoiceStatus, Promise, Tactic, Tier
from bot.domain.policy import Assignee, PlanningPolicy, StepAction

E, S, V, L, T = Channel.EMAIL, Channel.SMS, Channel.VOICE, Channel.LETTER, Channel.TASK
POLICY = make_policy()
PROCEDURAL = customer_at(Tier.COOPERATIVE)
PRESERVATION = customer_at(Tier.CAUTIOUS)
CONSULTATIVE = customer_at(Tier.STRATEGIC)


def plan(
    ledger: CustomerLedger,
    *,
    as_of: date = TUESDAY,
    executions: Mapping[str, Mapping[str, ExecutionStatus]] | None = None,
    contacts: Sequence[ContactRecord] = (),
    sent: Mapping[str, Mapping[str, date | None]] | None = None,
    policy: PlanningPolicy = POLICY,
) -> CustomerPlan:
    return plan_customer(as_of, ledger, executions or {}, contacts, policy, sent)


def by_step(result: CustomerPlan) -> dict[tuple[str, str], PlanDecision]:
    return {(d.invoice, d.step): d for d in result.decisions}


def live(result: CustomerPlan) -> list[PlanDecision]:
    """The decisions other than superseded ones."""
    return [d for d in result.decisions if d.status is not DecisionStatus.SUPERSEDED]


def executed(*steps: str) -> dict[str, ExecutionStatus]:
    return dict.fromkeys(steps, ExecutionStatus.SENT)


# --- the default ladder ------------------------------------------------------------------------


def test_default_ladders_are_the_design_table() -> None:
    table = {
        tactic: [(s.name, s.day, s.channels, s.signed, s.approval) for s in steps]
        for tactic, steps in default_ladders().items()
    }
    assert table[Tactic.CONSULTATIVE] == [
        ("pre_due_reminder", -7, (E,), False, False),
        ("due_statement", 0, (E,), True, False),
        ("care_call", 7, (T, E), False, False),
        ("formal_notice", 15, (E,), True, False),
        ("account_review", 30, (T,), False, False),
        ("final_demand", 60, (E, L), True, True),
        ("legal_referral", 90, (T,), False, True),
    ]
    assert table[Tactic.PROCEDURAL] == [
        ("pre_due_reminder", -7, (E,), False, False),
        ("due_statement", 0, (E,), True, False),
        ("overdue_sms", 3, (S,), False, False),
        ("collection_call", 7, (T, S), False, False),
        ("formal_notice", 15, (E, L), True, False),
        ("credit_hold", 30, (E, S), True, False),
        ("lawyer_letter", 45, (E, L), True, True),
        ("payment_order_pack", 60, (T,), False, True),
        ("litigation_referral", 90, (T,), False, True),
    ]
    assert table[Tactic.PRESERVATION] == [
        ("pre_due_reminder", -7, (E, S), False, False),
        ("due_statement", 0, (E, S), True, False),
        ("formal_notice", 3, (E, S, L), True, False),
        ("credit_hold", 7, (E, S), True, False),
        ("lawyer_letter", 15, (E, L), True, True),
        ("preservation_pack", 30, (T,), False, True),
    ]


def test_default_ladder_actions_and_assignees() -> None:
    steps = {(t, s.name): s for t, ladder in default_ladders().items() for s in ladder}
    assert steps[(Tactic.CONSULTATIVE, "due_statement")].action is StepAction.STATEMENT
    assert steps[(Tactic.PROCEDURAL, "credit_hold")].action is StepAction.CREDIT_HOLD
    assert steps[(Tactic.PRESERVATION, "credit_hold")].action is StepAction.CREDIT_HOLD
    assert steps[(Tactic.CONSULTATIVE, "account_review")].action is StepAction.RECOMMEND_CREDIT_HOLD
    assert steps[(Tactic.CONSULTATIVE, "account_review")].assignee is Assignee.FINANCE
    assert steps[(Tactic.CONSULTATIVE, "care_call")].assignee is Assignee.ACCOUNT_MANAGER
    assert steps[(Tactic.PROCEDURAL, "collection_call")].assignee is Assignee.COLLECTOR
    for key in [
        (Tactic.CONSULTATIVE, "legal_referral"),
        (Tactic.PROCEDURAL, "payment_order_pack"),
        (Tactic.PROCEDURAL, "litigation_referral"),
        (Tactic.PRESERVATION, "preservation_pack"),
    ]:
        assert (steps[key].action, steps[key].assignee) == (StepAction.LEGAL_PACK, Assignee.LEGAL)


def test_due_step_is_the_largest_day_not_after_d() -> None:
    ladder = default_ladders()[Tactic.PROCEDURAL]
    assert due_step_index(ladder, -8) is None
    assert due_step_index(ladder, -7) == 0
    assert due_step_index(ladder, -1) == 0
    assert due_step_index(ladder, 0) == 1
    assert due_step_index(ladder, 44) == 5
    assert due_step_index(ladder, 400) == 8


# --- rule 3: business days -----------------------------------------------------------------------


def test_nothing_is_decided_on_a_chinese_public_holiday() -> None:
    national_day = date(2026, 10, 1)
    ledger = make_ledger(make_invoice("I1", due_for(0, national_day)), customer=PROCEDURAL)
    result = plan(ledger, as_of=national_day)
    assert result == CustomerPlan(customer="C1", as_of=national_day, business_day=False, assessment=None)


def test_nothing_is_decided_on_a_weekend_but_a_make_up_saturday_works() -> None:
    saturday, make_up_saturday = date(2026, 3, 14), date(2026, 2, 14)
    for day, works in [(saturday, False), (make_up_saturday, True)]:
        ledger = make_ledger(make_invoice("I1", due_for(0, day)), customer=PROCEDURAL)
        result = plan(ledger, as_of=day)
        assert result.business_day is works
        assert bool(result.decisions) is works


def test_business_days_follow_the_customer_country() -> None:
    us_customer = customer_at(Tier.COOPERATIVE, country="US", timezone="America/New_York")
    ledger = make_ledger(make_invoice("I1", due_for(0, date(2026, 10, 1))), customer=us_customer)
    assert plan(ledger, as_of=date(2026, 10, 1)).business_day  # China's National Day, not America's


# --- rule 2: the due step and supersession -------------------------------------------------------


def test_pre_due_reminder_a_week_before_due() -> None:
    result = plan(make_ledger(make_invoice("I1", due_for(-7)), customer=PROCEDURAL))
    [decision] = result.decisions
    assert (decision.step, decision.status, decision.channels) == (
        "pre_due_reminder",
        DecisionStatus.PLANNED,
        (E,),
    )
    assert decision.days_overdue == -7
    assert decision.late_fee == Decimal("0.00")


def test_nothing_before_the_first_step() -> None:
    assert plan(make_ledger(make_invoice("I1", due_for(-8)), customer=PROCEDURAL)).decisions == ()


def test_missed_steps_are_superseded_after_downtime() -> None:
    # The bot was down from day 0 to day 16: only formal_notice goes out, the rest is recorded.
    ledger = make_ledger(make_invoice("I1", due_for(16)), customer=PROCEDURAL)
    result = plan(ledger, executions={"I1": executed("pre_due_reminder")})
    steps = by_step(result)
    assert [d.step for d in result.decisions] == [
        "due_statement",
        "overdue_sms",
        "collection_call",
        "formal_notice",
    ]
    for name in ["due_statement", "overdue_sms", "collection_call"]:
        superseded = steps[("I1", name)]
        assert superseded.status is DecisionStatus.SUPERSEDED
        assert superseded.channels == ()
        assert "formal_notice" in superseded.reason
    formal = steps[("I1", "formal_notice")]
    assert (formal.status, formal.channels, formal.signed) == (DecisionStatus.PLANNED, (E, L), True)


def test_a_step_already_executed_decides_nothing() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(17)), customer=PROCEDURAL)
    # REJECTED is left out since issue 16: a rejected step leaves the invoice manual (tested below).
    for status in set(ExecutionStatus) - {ExecutionStatus.REJECTED}:
        assert plan(ledger, executions={"I1": {"formal_notice": status}}).decisions == ()


def test_the_decision_carries_tier_tactic_fee_and_outstanding() -> None:
    ledger = make_ledger(
        make_invoice("I1", due_for(40), "100000.00", payments=(("50000.00", TUESDAY - timedelta(days=3)),)),
        customer=PROCEDURAL,
    )
    result = plan(
        ledger,
        executions={
            "I1": executed(
                "pre_due_reminder", "due_statement", "overdue_sms", "collection_call", "formal_notice"
            )
        },
    )
    [decision] = result.decisions
    assert (decision.tier, decision.tactic, decision.step) == (
        Tier.COOPERATIVE,
        Tactic.PROCEDURAL,
        "credit_hold",
    )
    assert decision.outstanding == Decimal("50000.00")
    assert decision.late_fee == Decimal("2250.00")  # half of the worked example's 4,500.00
    assert decision.as_json() == {
        "invoice": "I1",
        "customer": "C1",
        "tier": "cooperative",
        "tactic": "procedural",
        "step": "credit_hold",
        "days_overdue": 40,
        "channels": ["email", "sms"],
        "late_fee": "2250.00",
        "status": "planned",
        "reason": decision.reason,
    }


def test_late_fee_uses_the_invoice_contract_terms() -> None:
    contract = Contract(ref="K1", grace_days=0)
    ledger = make_ledger(
        make_invoice("WITH", due_for(16), contract_ref="K1"),
        make_invoice("WITHOUT", due_for(16)),
        make_invoice("UNKNOWN", due_for(16), contract_ref="NO-SUCH"),
        customer=PROCEDURAL,
        contracts={"K1": contract},
    )
    fees = {d.invoice: d.late_fee for d in plan(ledger).decisions}
    assert fees == {"WITH": Decimal("16.00"), "WITHOUT": Decimal("1.00"), "UNKNOWN": Decimal("1.00")}


def test_tactic_follows_the_scored_tier() -> None:
    # A new customer scores 53: cooperative, so the procedural ladder sends an sms on day 3.
    ledger = make_ledger(make_invoice("I1", due_for(3)))
    result = plan(ledger, executions={"I1": executed("pre_due_reminder", "due_statement")})
    assert result.assessment is not None and result.assessment.score == Decimal(53)
    [decision] = result.decisions
    assert (decision.tactic, decision.step) == (Tactic.PROCEDURAL, "overdue_sms")


# --- rule 1: what is skipped ---------------------------------------------------------------------


def test_disputed_and_written_off_invoices_are_not_dunned() -> None:
    ledger = make_ledger(
        make_invoice("D", due_for(0), status=InvoiceStatus.DISPUTED),
        make_invoice("W", due_for(0), status=InvoiceStatus.WRITTEN_OFF),
        customer=PROCEDURAL,
    )
    assert plan(ledger).decisions == ()


def test_outstanding_within_tolerance_is_not_dunned() -> None:
    ledger = make_ledger(
        make_invoice("I1", due_for(0), "1000.00", payments=(("999.00", TUESDAY),)), customer=PROCEDURAL
    )
    assert plan(ledger).decisions == ()


def test_promise_on_or_after_the_plan_date_holds_the_ladder() -> None:
    ledger = make_ledger(
        make_invoice("TODAY", due_for(0), promise=Promise(TUESDAY)),
        make_invoice("LATER", due_for(0), promise=Promise(TUESDAY + timedelta(days=5), Decimal(500))),
        customer=PROCEDURAL,
    )
    result = plan(ledger)
    assert (result.decisions, result.broken_promises) == ((), ())


def test_broken_promise_is_reported_and_the_ladder_goes_on() -> None:
    promised = TUESDAY - timedelta(days=1)
    ledger = make_ledger(
        make_invoice("I1", due_for(0), promise=Promise(promised, Decimal(1000))), customer=PROCEDURAL
    )
    result = plan(ledger)
    [broken] = result.broken_promises
    assert (broken.invoice, broken.promised_on, broken.outstanding) == ("I1", promised, Decimal("1000.00"))
    [decision] = live(result)
    assert (decision.step, decision.status) == ("due_statement", DecisionStatus.PLANNED)


def test_kept_promise_is_not_broken() -> None:
    ledger = make_ledger(
        make_invoice(
            "I1",
            due_for(0),
            payments=(("1000.00", TUESDAY - timedelta(2)),),
            promise=Promise(TUESDAY - timedelta(days=1)),
        ),
        customer=PROCEDURAL,
    )
    assert plan(ledger).broken_promises == ()


def test_do_not_contact_customer_gets_only_manual_decisions_and_alerts_still_rise() -> None:
    # Issue 16: an overdue invoice of a do_not_contact customer is shown `manual` (before: nothing).
    customer = customer_at(Tier.COOPERATIVE, do_not_contact=True)
    ledger = make_ledger(
        make_invoice("OLD", due_for(100), promise=Promise(TUESDAY - timedelta(days=20))),
        make_invoice("NEW", due_for(0)),
        customer=customer,
    )
    result = plan(ledger)
    [old] = result.decisions
    assert (old.invoice, old.step, old.status, old.channels) == (
        "OLD",
        "litigation_referral",
        DecisionStatus.MANUAL,
        (),
    )
    assert old.reason.startswith("do_not_contact:")
    assert result.do_not_contact
    assert [w.invoice for w in result.early_warnings] == ["OLD"]
    assert [b.invoice for b in result.broken_promises] == ["OLD"]


def test_ledger_is_read_as_of_the_plan_date() -> None:
    tomorrow = TUESDAY + timedelta(days=1)
    ledger = make_ledger(
        make_invoice("PAID_TOMORROW", due_for(0), payments=(("1000.00", tomorrow),)),
        make_invoice("ISSUED_TOMORROW", due_for(-7), issued=tomorrow),
        make_invoice("PAID_TODAY", due_for(-7), payments=(("1000.00", TUESDAY),)),
        customer=PROCEDURAL,
    )
    assert [d.invoice for d in live(plan(ledger))] == ["PAID_TOMORROW"]


# --- rule 4: grouping ----------------------------------------------------------------------------


def test_invoices_at_the_same_step_share_one_message_per_channel() -> None:
    ledger = make_ledger(make_invoice("A", due_for(0)), make_invoice("B", due_for(0)), customer=PROCEDURAL)
    # Three messages already this week: one more fits, two would not.
    contacts = [ContactRecord(E, TUESDAY - timedelta(days=n)) for n in (1, 2, 3)]
    result = plan(ledger, contacts=contacts)
    assert [(d.invoice, d.step, d.status) for d in live(result)] == [
        ("A", "due_statement", DecisionStatus.PLANNED),
        ("B", "due_statement", DecisionStatus.PLANNED),
    ]
    assert all("one message for 2 invoices" in d.reason for d in live(result))


# --- rule 5: caps and severity -------------------------------------------------------------------


def test_one_message_per_channel_per_day_defers_the_step() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(0)), customer=PROCEDURAL)
    result = plan(ledger, contacts=[ContactRecord(E, TUESDAY)])
    [decision] = live(result)
    assert decision.status is DecisionStatus.DEFERRED
    assert "email already used today" in decision.reason


def test_yesterdays_message_does_not_block_today() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(0)), customer=PROCEDURAL)
    result = plan(ledger, contacts=[ContactRecord(E, TUESDAY - timedelta(days=1))])
    assert live(result)[0].status is DecisionStatus.PLANNED


def test_more_severe_step_wins_the_channel() -> None:
    ledger = make_ledger(
        make_invoice("EARLY", due_for(0)), make_invoice("LATE", due_for(15)), customer=PROCEDURAL
    )
    result = plan(
        ledger,
        executions={"LATE": executed("pre_due_reminder", "due_statement", "overdue_sms", "collection_call")},
    )
    statuses = {(d.invoice, d.step): d.status for d in live(result)}
    assert statuses == {
        ("LATE", "formal_notice"): DecisionStatus.PLANNED,
        ("EARLY", "due_statement"): DecisionStatus.DEFERRED,
    }


def test_seven_day_cap_defers_the_whole_step() -> None:
    # Preservation formal_notice needs email, sms and letter: 2 this week + 3 > 4, so none of them goes.
    ledger = make_ledger(make_invoice("I1", due_for(3)), customer=PRESERVATION)
    contacts = [ContactRecord(V, TUESDAY - timedelta(days=6)), ContactRecord(E, TUESDAY - timedelta(days=2))]
    result = plan(ledger, executions={"I1": executed("pre_due_reminder", "due_statement")}, contacts=contacts)
    [decision] = result.decisions
    assert decision.status is DecisionStatus.DEFERRED
    assert decision.channels == (E, S, L)
    assert "cap 4" in decision.reason
    assert "next business day" in decision.reason


def test_seven_day_window_ends_six_days_back() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(3)), customer=PRESERVATION)
    contacts = [ContactRecord(V, TUESDAY - timedelta(days=7)), ContactRecord(E, TUESDAY - timedelta(days=7))]
    result = plan(ledger, executions={"I1": executed("pre_due_reminder", "due_statement")}, contacts=contacts)
    assert result.decisions[0].status is DecisionStatus.PLANNED


def test_tasks_do_not_count_against_the_caps() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(30)), customer=CONSULTATIVE)
    contacts = [ContactRecord(E, TUESDAY - timedelta(days=n)) for n in (1, 2, 3, 4)] + [
        ContactRecord(T, TUESDAY)
    ]
    done = executed("pre_due_reminder", "due_statement", "care_call", "formal_notice")
    [decision] = plan(ledger, executions={"I1": done}, contacts=contacts).decisions
    assert (decision.step, decision.status, decision.channels) == (
        "account_review",
        DecisionStatus.PLANNED,
        (T,),
    )


def test_severity_order_under_the_weekly_cap() -> None:
    # Room for two messages: credit_hold (email+sms) takes it, pre_due_reminder (email+sms) waits.
    ledger = make_ledger(
        make_invoice("NEW", due_for(-7)), make_invoice("OLD", due_for(7)), customer=PRESERVATION
    )
    contacts = [ContactRecord(V, TUESDAY - timedelta(days=3)), ContactRecord(L, TUESDAY - timedelta(days=4))]
    done = {"OLD": executed("pre_due_reminder", "due_statement", "formal_notice")}
    statuses = {d.step: d.status for d in plan(ledger, executions=done, contacts=contacts).decisions}
    assert statuses == {"credit_hold": DecisionStatus.PLANNED, "pre_due_reminder": DecisionStatus.DEFERRED}


# --- approval ------------------------------------------------------------------------------------


def test_approval_step_waits_and_takes_no_channel() -> None:
    ledger = make_ledger(
        make_invoice("LAWYER", due_for(45)), make_invoice("NOTICE", due_for(15)), customer=PROCEDURAL
    )
    done = {
        "LAWYER": executed(
            "pre_due_reminder",
            "due_statement",
            "overdue_sms",
            "collection_call",
            "formal_notice",
            "credit_hold",
        ),
        "NOTICE": executed("pre_due_reminder", "due_statement", "overdue_sms", "collection_call"),
    }
    # The formal notice went out 30 days ago: the first demand before a legal step (issue 16).
    sent = {"LAWYER": {"formal_notice": TUESDAY - timedelta(days=30)}}
    steps = by_step(plan(ledger, executions=done, sent=sent))
    lawyer = steps[("LAWYER", "lawyer_letter")]
    assert (lawyer.status, lawyer.channels, lawyer.approval) == (DecisionStatus.AWAITING_APPROVAL, (), True)
    assert "approval" in lawyer.reason
    # The lawyer letter would need email and letter too; waiting, it leaves them to formal_notice.
    assert steps[("NOTICE", "formal_notice")].status is DecisionStatus.PLANNED


# --- reachability --------------------------------------------------------------------------------


def test_unreachable_channel_is_dropped_and_said_so() -> None:
    customer = customer_at(Tier.COOPERATIVE, address=None)
    ledger = make_ledger(make_invoice("I1", due_for(15)), customer=customer)
    done = {"I1": executed("pre_due_reminder", "due_statement", "overdue_sms", "collection_call")}
    [decision] = plan(ledger, executions=done).decisions
    assert (decision.status, decision.channels) == (DecisionStatus.PLANNED, (E,))
    assert "letter: no postal address" in decision.reason


def test_opted_out_channel_is_dropped() -> None:
    customer = customer_at(Tier.CAUTIOUS, opted_out=frozenset({S}))
    [decision] = plan(make_ledger(make_invoice("I1", due_for(-7)), customer=customer)).decisions
    assert decision.channels == (E,)
    assert "sms: the customer opted out" in decision.reason


def test_no_reachable_channel_falls_back_to_a_task() -> None:
    customer = customer_at(Tier.COOPERATIVE, phone=None)
    ledger = make_ledger(make_invoice("I1", due_for(3)), customer=customer)
    [decision] = plan(ledger, executions={"I1": executed("pre_due_reminder", "due_statement")}).decisions
    assert (decision.step, decision.status, decision.channels) == (
        "overdue_sms",
        DecisionStatus.PLANNED,
        (T,),
    )
    assert "no phone number" in decision.reason
    assert "task" in decision.reason


def test_task_step_keeps_its_task_when_the_message_channel_is_unreachable() -> None:
    customer = customer_at(Tier.COOPERATIVE, phone=None)
    ledger = make_ledger(make_invoice("I1", due_for(7)), customer=customer)
    done = {"I1": executed("pre_due_reminder", "due_statement", "overdue_sms")}
    [decision] = plan(ledger, executions=done).decisions
    assert decision.channels == (T,)
    assert "sms: no phone number" in decision.reason


# --- early warnings and plan_day -----------------------------------------------------------------


def test_plan_carries_the_assessment_and_early_warnings() -> None:
    ledger = make_ledger(make_invoice("OLD", due_for(50)), customer=PROCEDURAL)
    result = plan(ledger)
    assert result.assessment is not None and result.assessment.tier is Tier.COOPERATIVE
    assert [w.invoice for w in result.early_warnings] == ["OLD"]


def test_plan_day_plans_every_ledger_with_its_own_state() -> None:
    first = make_ledger(make_invoice("A1", due_for(0)), customer=customer_at(Tier.COOPERATIVE, id="A"))
    second = make_ledger(
        make_invoice("B1", due_for(0), customer_id="B"), customer=customer_at(Tier.COOPERATIVE, id="B")
    )
    contacts = {"A": [ContactRecord(E, TUESDAY)], "B": []}
    plans = list(plan_day(TUESDAY, [first, second], lambda _: {}, contacts.__getitem__, POLICY))
    assert [(p.customer, [d.status for d in live(p)]) for p in plans] == [
        ("A", [DecisionStatus.DEFERRED]),
        ("B", [DecisionStatus.PLANNED]),
    ]


def test_due_step_in_an_unordered_ladder_is_still_the_largest_day_not_after_d() -> None:
    ladder = default_ladders()[Tactic.PROCEDURAL]
    shuffled = (ladder[3], ladder[0], ladder[5], ladder[1])
    assert due_step_index(shuffled, -1) == 1
    assert due_step_index(shuffled, 10) == 0
    assert due_step_index(shuffled, 99) == 2
    assert due_step_index(shuffled, -8) is None


# --- first demand before any legal step (issue 16, DESIGN §4 rule 2) ---------------------------

LEGAL_OF = {
    Tier.STRATEGIC: "legal_referral",
    Tier.COOPERATIVE: "litigation_referral",
    Tier.CAUTIOUS: "preservation_pack",
}
FIRST_DEMAND_OF = {
    Tier.STRATEGIC: "formal_notice",
    Tier.COOPERATIVE: "credit_hold",
    Tier.CAUTIOUS: "credit_hold",
}


def test_an_invoice_first_seen_90_days_late_opens_with_a_signed_demand_never_a_legal_step() -> None:
    for tier in Tier:
        result = plan(make_ledger(make_invoice("I1", due_for(90)), customer=customer_at(tier)))
        [opening] = live(result)
        ladder = {step.name: step for step in result.ladder}
        # The most severe signed step that needs no approval, in place of the legal step due.
        assert opening.step == FIRST_DEMAND_OF[tier]
        assert ladder[opening.step].signed and not ladder[opening.step].approval
        assert opening.status is DecisionStatus.PLANNED
        assert opening.reason.startswith(f"first demand before {LEGAL_OF[tier]}: {opening.step} (day ")
        assert E in opening.channels
        superseded = [d for d in result.decisions if d.status is DecisionStatus.SUPERSEDED]
        assert opening.step not in {d.step for d in superseded}
        assert all(f"{LEGAL_OF[tier]} (day" in d.reason for d in superseded)
        # In ladder order: the first demand among the steps the legal one supersedes.
        assert [d.step_index for d in result.decisions] == sorted(d.step_index for d in result.decisions)


def test_the_legal_step_waits_for_the_lead_time_then_follows() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(50)), customer=PROCEDURAL)
    first = plan(ledger)
    assert [(d.step, d.status) for d in live(first)] == [("credit_hold", DecisionStatus.PLANNED)]
    done = {
        "I1": {
            d.step: ExecutionStatus.PLANNED
            if d.status is DecisionStatus.PLANNED
            else ExecutionStatus.SUPERSEDED
            for d in first.decisions
        }
    }

    # Planned, not out yet (its e-mail still in the outbox): the lawyer's letter waits, and nothing
    # else is sent.
    tomorrow = TUESDAY + timedelta(days=1)
    in_flight: dict[str, dict[str, date | None]] = {"I1": {"credit_hold": None}}
    [waiting] = plan(ledger, as_of=tomorrow, executions=done, sent=in_flight).decisions
    assert (waiting.step, waiting.status, waiting.channels) == ("lawyer_letter", DecisionStatus.DEFERRED, ())
    assert waiting.reason.startswith("first demand before lawyer_letter: no signed demand")

    # Out on Tuesday: six days later it still waits, seven days later it is placed for approval.
    sent = {"I1": {"credit_hold": TUESDAY}}
    [still] = plan(ledger, as_of=TUESDAY + timedelta(days=6), executions=done, sent=sent).decisions
    assert still.status is DecisionStatus.DEFERRED
    assert still.reason.endswith(
        f"went out on {TUESDAY}; lawyer_letter waits until {TUESDAY + timedelta(days=7)}"
    )
    [legal] = plan(ledger, as_of=TUESDAY + timedelta(days=7), executions=done, sent=sent).decisions
    assert (legal.step, legal.status) == ("lawyer_letter", DecisionStatus.AWAITING_APPROVAL)


def test_only_a_signed_step_sent_counts_as_a_demand() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(45)), customer=PROCEDURAL)
    done = {
        "I1": executed(
            "pre_due_reminder",
            "due_statement",
            "overdue_sms",
            "collection_call",
            "formal_notice",
            "credit_hold",
        )
    }
    unsigned = {
        "I1": {"overdue_sms": TUESDAY - timedelta(days=40), "pre_due_reminder": TUESDAY - timedelta(days=50)}
    }
    [waiting] = plan(ledger, executions=done, sent=unsigned).decisions
    # No signed demand went out and none can any more: the collectors have it.
    assert (waiting.step, waiting.status) == ("lawyer_letter", DecisionStatus.MANUAL)
    signed = {"I1": {"due_statement": TUESDAY - timedelta(days=45)}}
    [legal] = plan(ledger, executions=done, sent=signed).decisions
    assert legal.status is DecisionStatus.AWAITING_APPROVAL


def test_a_first_demand_that_never_went_out_leaves_the_invoice_manual_not_waiting_for_ever() -> None:
    # Rule 2 and "never silently forgotten": the stand-in's e-mail was cancelled (a promise, a
    # pause, a dispute), failed, bounced, or there was no e-mail nor postal address to send it to.
    ledger = make_ledger(make_invoice("I1", due_for(50)), customer=PROCEDURAL)
    first = plan(ledger)
    done = {
        "I1": {
            d.step: ExecutionStatus.PLANNED
            if d.status is DecisionStatus.PLANNED
            else ExecutionStatus.SUPERSEDED
            for d in first.decisions
        }
    }
    for later, legal_step in ((1, "lawyer_letter"), (14, "payment_order_pack"), (57, "litigation_referral")):
        day = TUESDAY + timedelta(days=later)
        for nothing_in_flight in (None, {}, {"I1": {"overdue_sms": None}}, {"OTHER": {"credit_hold": None}}):
            [manual] = live(plan(ledger, as_of=day, executions=done, sent=nothing_in_flight))
            assert (manual.step, manual.status, manual.channels) == (
                legal_step,
                DecisionStatus.MANUAL,
                (),
            )
            assert manual.reason == (
                f"first demand before {manual.step}: the signed demand placed for this invoice did "
                "not go out (cancelled, failed, bounced, or no e-mail or postal address); collectors "
                "send it by hand or decide"
            )
        # A signed notice still in flight (planned, claimed, sending) may yet go: it waits.
        [waiting] = live(plan(ledger, as_of=day, executions=done, sent={"I1": {"credit_hold": None}}))
        assert waiting.status is DecisionStatus.DEFERRED
        assert "no signed demand for this invoice has gone out yet" in waiting.reason
    # Once it has gone out, the ladder goes on as ever.
    day = TUESDAY + timedelta(days=8)
    sent: dict[str, dict[str, date | None]] = {"I1": {"credit_hold": TUESDAY + timedelta(days=1)}}
    [legal] = live(plan(ledger, as_of=day, executions=done, sent=sent))
    assert (legal.step, legal.status) == ("lawyer_letter", DecisionStatus.AWAITING_APPROVAL)


def test_the_lead_time_is_configurable() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(45)), customer=PROCEDURAL)
    done = {
        "I1": executed(
            "pre_due_reminder",
            "due_statement",
            "overdue_sms",
            "collection_call",
            "formal_notice",
            "credit_hold",
        )
    }
    sent = {"I1": {"credit_hold": TUESDAY - timedelta(days=2)}}
    assert live(plan(ledger, executions=done, sent=sent))[0].status is DecisionStatus.DEFERRED
    policy = PlanningPolicy(ladders=default_ladders(), demand_lead_days=2)
    assert (
        live(plan(ledger, executions=done, sent=sent, policy=policy))[0].status
        is DecisionStatus.AWAITING_APPROVAL
    )


def test_a_first_demand_shares_the_message_of_invoices_due_at_that_step() -> None:
    # Rule 4: one message per channel for the invoices at one step on one day, first demands too.
    ledger = make_ledger(
        make_invoice("LATE", due_for(60)), make_invoice("DUE", due_for(30)), customer=PROCEDURAL
    )
    steps = by_step(plan(ledger))
    late, due = steps[("LATE", "credit_hold")], steps[("DUE", "credit_hold")]
    assert late.status is due.status is DecisionStatus.PLANNED
    assert late.channels == due.channels
    assert "one message for 2 invoices" in late.reason and "one message for 2 invoices" in due.reason
    assert late.reason.startswith("first demand before payment_order_pack:")
    assert not due.reason.startswith("first demand")


def test_a_rejected_legal_step_leaves_the_invoice_manual() -> None:
    ledger = make_ledger(make_invoice("I1", due_for(70)), customer=PROCEDURAL)
    done = {"I1": {**executed("formal_notice", "credit_hold"), "lawyer_letter": ExecutionStatus.REJECTED}}
    [manual] = plan(
        ledger, executions=done, sent={"I1": {"formal_notice": TUESDAY - timedelta(days=55)}}
    ).decisions
    assert (manual.step, manual.status, manual.channels) == ("lawyer_letter", DecisionStatus.MANUAL, ())
    assert manual.reason.startswith("lawyer_letter was rejected: the invoice is left to the collectors")


# --- pauses (issue 16: `dunbot pause`) -----------------------------------------------------------


def test_a_paused_invoice_is_skipped_until_its_day_has_passed() -> None:
    ledger = make_ledger(
        make_invoice("PAUSED", due_for(15), paused_until=TUESDAY),
        make_invoice("OVER", due_for(15), paused_until=TUESDAY - timedelta(days=1)),
        customer=PROCEDURAL,
    )
    assert {d.invoice for d in plan(ledger).decisions} == {"OVER"}
    assert {d.invoice for d in plan(ledger, as_of=TUESDAY + timedelta(days=1)).decisions} == {
        "OVER",
        "PAUSED",
    }


def test_a_paused_customer_gets_nothing_but_alerts_still_rise() -> None:
    customer = customer_at(Tier.COOPERATIVE, paused_until=TUESDAY + timedelta(days=3), do_not_contact=True)
    ledger = make_ledger(
        make_invoice("I1", due_for(100), promise=Promise(TUESDAY - timedelta(days=5))), customer=customer
    )
    result = plan(ledger)
    assert result.decisions == ()
    assert [w.invoice for w in result.early_warnings] == ["I1"]
    assert [b.invoice for b in result.broken_promises] == ["I1"]
    assert live(plan(ledger, as_of=TUESDAY + timedelta(days=6)))[0].status is DecisionStatus.MANUAL
