"""Finding the due step of a ladder: the rung an invoice has reached, so many days overdue.

A ``StepFinder`` also keeps what every invoice of its ladder needs worked out once (rule 2's first
demands, the steps each rung supersedes) and the placements already made from it (see
``bot.domain.placement``); ``finder_for`` keeps one finder per ladder object across customers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from bot.domain.decisions import StepPlacement
from bot.domain.policy import LadderStep


def due_step_index(ladder: Sequence[LadderStep], days_overdue: int) -> int | None:
    """Index of the step with the largest ``day`` ≤ ``days_overdue``; None before the first step.

    Ties go to the later step. Ladders are normally in ascending ``day`` order (the config checks);
    an unordered ladder still gets the right step, only slower.
    """
    return StepFinder(ladder).find(days_overdue)


class StepFinder:
    """Finds due steps of one ladder, with what every invoice of that ladder needs precomputed."""

    __slots__ = (
        "_days",
        "_ordered",
        "derived",
        "everything_before",
        "first_demands",
        "fresh_first_demand",
        "index_by_days",
        "ladder",
        "legal",
        "names",
        "placements",
        "signed_names",
    )

    def __init__(self, ladder: Sequence[LadderStep]) -> None:
        self.ladder = ladder
        # Placements of this ladder's steps already made, by what they depend on (see
        # placement.place_due_step).
        self.placements: dict[tuple[object, ...], StepPlacement] = {}
        # Placements made from others or from a fact (first demands, waiting and manual steps).
        self.derived: dict[tuple[object, ...], StepPlacement] = {}
        self.names = tuple(step.name for step in ladder)
        # Rule 2: legal steps are those that need approval; a signed demand is any signed step; the
        # first demands that may stand in for the legal step at i: the signed steps before it that
        # are not legal, most severe (latest) first.
        self.legal = tuple(step.approval for step in ladder)
        self.signed_names = frozenset(step.name for step in ladder if step.signed)
        self.first_demands = tuple(
            tuple(k for k in reversed(range(index)) if ladder[k].signed and not ladder[k].approval)
            for index in range(len(ladder))
        )
        # For an invoice with no step run yet: the first demand in place of the legal step at i (or
        # None) and what the legal step supersedes besides it.
        self.fresh_first_demand = tuple(
            (
                candidates[0] if candidates else None,
                tuple(k for k in range(index) if not candidates or k != candidates[0]),
            )
            for index, candidates in enumerate(self.first_demands)
        )
        # The steps an invoice at index i supersedes when none of them ran: all of those before it.
        self.everything_before = tuple(tuple(range(index)) for index in range(len(ladder)))
        self._days = [step.day for step in ladder]
        self._ordered = all(a <= b for a, b in zip(self._days, self._days[1:], strict=False))
        # find()'s answers so far: a few hundred distinct days overdue serve a million invoices.
        self.index_by_days: dict[int, int | None] = {}

    def find(self, days_overdue: int) -> int | None:
        """Index of the due step ``days_overdue`` days after the due date (see ``due_step_index``)."""
        if self._ordered:
            index = bisect_right(self._days, days_overdue) - 1
            return index if index >= 0 else None
        best: int | None = None
        for index, day in enumerate(self._days):
            if day <= days_overdue and (best is None or day >= self._days[best]):
                best = index
        return best


# One finder per ladder object, not per customer: the three ladders of a policy serve every customer.
_FINDERS: dict[int, StepFinder] = {}
_MAX_FINDERS = 64


def finder_for(ladder: Sequence[LadderStep]) -> StepFinder:
    """The finder of ``ladder``, made once per ladder object and kept (up to a few dozen ladders)."""
    finder = _FINDERS.get(id(ladder))
    if finder is None or finder.ladder is not ladder:
        if len(_FINDERS) >= _MAX_FINDERS:
            _FINDERS.clear()
        finder = _FINDERS[id(ladder)] = StepFinder(ladder)
    return finder
