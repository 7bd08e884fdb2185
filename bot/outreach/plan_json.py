"""The JSON text of `dunbot plan --json`, written straight from the compact customer plans.

Each decision's object is byte for byte what ``json.dumps(decision.as_json(), ensure_ascii=False)``
gives (DESIGN §4: invoice, customer, tier, tactic, step, days_overdue, channels, late_fee as a decimal
string, status, reason), but it is assembled from fragments instead of a dict per decision: what a
customer's decisions share is encoded once per customer, what a ladder's steps share (step names,
the superseded reasons) once per ladder, and per invoice only its number, days and late fee. A first
run after an import has five decisions per invoice, most of them superseded, so this matters.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses for a str
from typing import TextIO

from bot.domain.decisions import CustomerPlan, DecisionStatus, StepPlacement, superseded_reason
from bot.domain.ledger import Channel, Tactic, Tier
from bot.domain.policy import LadderStep

# Between two objects of the array, and before the first and after the last one.
SEPARATOR = ",\n  "
OPENING = "["
FIRST = "\n  "
CLOSING_AFTER_OBJECTS = "\n]\n"
CLOSING_EMPTY = "]\n"
_MAX_PLACEMENTS = 10_000


class _LadderFragments:
    """What every decision on one ladder shares, JSON-encoded once."""

    __slots__ = ("ladder", "steps", "superseded_tails")

    def __init__(self, ladder: tuple[LadderStep, ...]) -> None:
        self.ladder = ladder
        # '"name", "days_overdue": ' for each step: follows '"step": '.
        self.steps = tuple(f'{encode_basestring(step.name)}, "days_overdue": ' for step in ladder)
        # For a due step at index d, the end of the object of each earlier step k it supersedes,
        # from the late fee's closing quote on.
        status = encode_basestring(DecisionStatus.SUPERSEDED.value)
        self.superseded_tails = tuple(
            tuple(
                f'", "status": {status}, "reason": {encode_basestring(superseded_reason(earlier, due))}}}'
                for earlier in ladder[:index]
            )
            for index, due in enumerate(ladder)
        )


def _placement_fragments(placement: StepPlacement) -> tuple[str, str]:
    channels = ", ".join(encode_basestring(channel.value) for channel in placement.channels)
    middle = f', "channels": [{channels}], "late_fee": "'
    tail = (
        f'", "status": {encode_basestring(placement.status.value)}, '
        f'"reason": {encode_basestring(placement.reason)}}}'
    )
    return middle, tail


class PlanJsonEncoder:
    """Encodes customer plans as the JSON objects of `dunbot plan --json`, one per decision.

    Keeps the fragments of every ladder it has seen; use one encoder per run.
    """

    __slots__ = ("_ladders", "_placements", "_tiers_and_tactics")

    def __init__(self) -> None:
        self._ladders: dict[int, _LadderFragments] = {}
        # Placements repeat across customers (same step, channels and reason sentence).
        self._placements: dict[tuple[DecisionStatus, tuple[Channel, ...], str], tuple[str, str]] = {}
        self._tiers_and_tactics: dict[tuple[Tier, Tactic], str] = {}

    def _placement(self, placement: StepPlacement) -> tuple[str, str]:
        key = (placement.status, placement.channels, placement.reason)
        fragments = self._placements.get(key)
        if fragments is None:
            if len(self._placements) >= _MAX_PLACEMENTS:
                self._placements.clear()
            fragments = self._placements[key] = _placement_fragments(placement)
        return fragments

    def _tier_and_tactic(self, tier: Tier, tactic: Tactic) -> str:
        # Once per pair, not per customer: an enum member's .value is a Python-level property.
        fragment = self._tiers_and_tactics.get((tier, tactic))
        if fragment is None:
            fragment = self._tiers_and_tactics[tier, tactic] = (
                f', "tier": {encode_basestring(tier.value)}, '
                f'"tactic": {encode_basestring(tactic.value)}, "step": '
            )
        return fragment

    def _fragments(self, ladder: tuple[LadderStep, ...]) -> _LadderFragments:
        fragments = self._ladders.get(id(ladder))
        if fragments is None or fragments.ladder is not ladder:
            fragments = self._ladders[id(ladder)] = _LadderFragments(ladder)
        return fragments

    def encode(self, plan: CustomerPlan) -> tuple[str, int]:
        """The JSON objects of every decision of ``plan`` (in the order of ``plan.decisions``),
        separated as in the array, and how many there are."""
        if not plan.invoices:
            return "", 0
        assert plan.assessment is not None and plan.tactic is not None
        ladder = self._fragments(plan.ladder)
        steps, superseded_tails = ladder.steps, ladder.superseded_tails
        tier_and_tactic = self._tier_and_tactic(plan.assessment.tier, plan.tactic)
        customer = f', "customer": {encode_basestring(plan.customer)}{tier_and_tactic}'
        # By the placement object: invoices placed alike share one (and it lives as long as the plan).
        placements: dict[int, tuple[str, str]] = {}
        objects: list[str] = []
        # f-strings of a few precomputed parts: measured faster than one %-template per invoice.
        for number, _currency, _outstanding, days, fee, superseded, placement in plan.invoices:
            head = f'{{"invoice": {encode_basestring(number)}{customer}'
            fee_text = str(fee)  # a Decimal's str has nothing JSON must escape
            fragments = placements.get(id(placement))
            if fragments is None:
                fragments = placements[id(placement)] = self._placement(placement)
            placed, stands_in_for = placement[0], placement[4]  # by index: cheaper than by name
            placed_object = f"{head}{steps[placed]}{days}{fragments[0]}{fee_text}{fragments[1]}"
            if superseded:
                middle = f'{days}, "channels": [], "late_fee": "{fee_text}'
                if stands_in_for is None:
                    tails = superseded_tails[placed]
                    objects += [f"{head}{steps[k]}{middle}{tails[k]}" for k in superseded]
                else:  # a first demand instead of a legal step: in ladder order among what that supersedes
                    tails = superseded_tails[stands_in_for]
                    cut = bisect_left(superseded, placed)
                    objects += [f"{head}{steps[k]}{middle}{tails[k]}" for k in superseded[:cut]]
                    objects.append(placed_object)
                    objects += [f"{head}{steps[k]}{middle}{tails[k]}" for k in superseded[cut:]]
                    continue
            objects.append(placed_object)
        return SEPARATOR.join(objects), len(objects)


def write_json_array(plans: Iterable[CustomerPlan], out: TextIO) -> int:
    """Write every decision of ``plans`` to ``out`` as the `plan --json` array; returns how many."""
    encoder = PlanJsonEncoder()
    out.write(OPENING)
    written = 0
    for plan in plans:
        text, count = encoder.encode(plan)
        if count:
            out.write(SEPARATOR if written else FIRST)
            out.write(text)
            written += count
    out.write(CLOSING_AFTER_OBJECTS if written else CLOSING_EMPTY)
    return written
