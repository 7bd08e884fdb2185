"""``[ladder]``: a tactic's steps as written, the default ladders, and the checks of a ladder pydantic
cannot express (order, unique names, and, through the caller's :class:`~bot.config.hooks.FileChecks`,
templates that exist)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from bot.config.fields import Section
from bot.config.hooks import FileChecks
from bot.domain.default_ladders import default_ladders
from bot.domain.ledger import Channel, Tactic
from bot.domain.policy import Assignee, LadderStep, StepAction


class LadderStepSettings(Section):
    """One step of a ladder, as written in [[ladder.<tactic>]]."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    day: int = Field(ge=-365, le=3650)
    channels: tuple[Channel, ...] = Field(min_length=1)
    signed: bool = False
    approval: bool = False
    template: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    action: StepAction = StepAction.NONE
    assignee: Assignee = Assignee.COLLECTOR

    def to_domain(self) -> LadderStep:
        """The domain's LadderStep."""
        return LadderStep(
            name=self.name,
            day=self.day,
            channels=self.channels,
            signed=self.signed,
            approval=self.approval,
            template=self.template or "",
            action=self.action,
            assignee=self.assignee,
        )


# Keys of [ladder] that are settings, not a tactic's steps.
LADDER_OPTIONS = frozenset({"demand_lead_days"})


def default_ladder() -> dict[Tactic, tuple[LadderStepSettings, ...]]:
    """The ladders ``[ladder]`` starts from (DESIGN §4), as settings."""
    return {
        tactic: tuple(
            LadderStepSettings(
                name=s.name,
                day=s.day,
                channels=s.channels,
                signed=s.signed,
                approval=s.approval,
                template=s.template or None,
                action=s.action,
                assignee=s.assignee,
            )
            for s in steps
        )
        for tactic, steps in default_ladders().items()
    }


# A tactic's steps that passed the schema, each with its index in the file (a step the schema
# rejected is left out, so the others keep the index that names them in the file).
IndexedLadder = Mapping[Tactic, list[tuple[int, LadderStepSettings]]]


def indexed(ladder: Mapping[Tactic, tuple[LadderStepSettings, ...]]) -> IndexedLadder:
    """Each tactic's steps with their index."""
    return {tactic: list(enumerate(steps)) for tactic, steps in ladder.items()}


def ladder_problems(ladder: IndexedLadder, file: str, checks: FileChecks | None = None) -> list[str]:
    """Semantic checks pydantic cannot express: order, unique names, and (with ``checks``) templates
    that exist."""
    problems: list[str] = []
    for tactic, steps in ladder.items():
        seen: dict[str, int] = {}
        previous_day: int | None = None
        for index, step in steps:
            where = f"{file}:ladder.{tactic.value}[{index}]"
            if step.name in seen:
                problems.append(
                    f"{where}.name: step {step.name!r} appears twice (also at [{seen[step.name]}])"
                )
            seen[step.name] = index
            if previous_day is not None and step.day <= previous_day:
                problems.append(
                    f"{where}.day: days must increase along the ladder ({step.day} after {previous_day})"
                )
            previous_day = step.day
            if checks is None:
                continue
            name = step.template or step.name
            field = "template" if step.template else "name"
            for missing in checks.missing_templates(step.to_domain()):
                problems.append(f"{where}.{field}: no template {missing} for {name!r}")
    return problems


_TACTIC_NAMES = frozenset(tactic.value for tactic in Tactic)


def document_ladder(document: Mapping[str, Any], default: IndexedLadder) -> IndexedLadder:
    """The ladder steps of ``document`` that pass the schema on their own, by their index in it;
    ``default`` when it has no ``[ladder]``."""
    if "ladder" not in document:
        return default
    written = document["ladder"]
    if not isinstance(written, dict):
        return {}
    ladder: dict[Tactic, list[tuple[int, LadderStepSettings]]] = {}
    for name, steps in written.items():
        if name not in _TACTIC_NAMES or not isinstance(steps, list):
            continue
        ladder[Tactic(name)] = kept = []
        for index, step in enumerate(steps):
            try:
                kept.append((index, LadderStepSettings.model_validate(step)))
            except ValidationError:
                continue
    return ladder
