"""The default collection ladders: the step table of DESIGN §4, one ladder per tactic.

What ``[ladder.*]`` in the config replaces; config.example.toml spells out the same table.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.ledger import Channel, Tactic
from bot.domain.policy import Assignee, LadderStep, StepAction

_E, _S, _L, _T = Channel.EMAIL, Channel.SMS, Channel.LETTER, Channel.TASK


def default_ladders() -> Mapping[Tactic, tuple[LadderStep, ...]]:
    """The default ladder of each tactic, exactly the table of DESIGN §4 (config.example.toml too)."""
    legal = Assignee.LEGAL
    pack = StepAction.LEGAL_PACK
    return {
        Tactic.CONSULTATIVE: (
            LadderStep("pre_due_reminder", -7, (_E,)),
            LadderStep("due_statement", 0, (_E,), signed=True, action=StepAction.STATEMENT),
            LadderStep("care_call", 7, (_T, _E), assignee=Assignee.ACCOUNT_MANAGER),
            LadderStep("formal_notice", 15, (_E,), signed=True),
            LadderStep(
                "account_review",
                30,
                (_T,),
                action=StepAction.RECOMMEND_CREDIT_HOLD,
                assignee=Assignee.FINANCE,
            ),
            LadderStep("final_demand", 60, (_E, _L), signed=True, approval=True),
            LadderStep("legal_referral", 90, (_T,), approval=True, action=pack, assignee=legal),
        ),
        Tactic.PROCEDURAL: (
            LadderStep("pre_due_reminder", -7, (_E,)),
            LadderStep("due_statement", 0, (_E,), signed=True, action=StepAction.STATEMENT),
            LadderStep("overdue_sms", 3, (_S,)),
            LadderStep("collection_call", 7, (_T, _S), assignee=Assignee.COLLECTOR),
            LadderStep("formal_notice", 15, (_E, _L), signed=True),
            LadderStep("credit_hold", 30, (_E, _S), signed=True, action=StepAction.CREDIT_HOLD),
            LadderStep("lawyer_letter", 45, (_E, _L), signed=True, approval=True),
            LadderStep("payment_order_pack", 60, (_T,), approval=True, action=pack, assignee=legal),
            LadderStep("litigation_referral", 90, (_T,), approval=True, action=pack, assignee=legal),
        ),
        Tactic.PRESERVATION: (
            LadderStep("pre_due_reminder", -7, (_E, _S)),
            LadderStep("due_statement", 0, (_E, _S), signed=True, action=StepAction.STATEMENT),
            LadderStep("formal_notice", 3, (_E, _S, _L), signed=True),
            LadderStep("credit_hold", 7, (_E, _S), signed=True, action=StepAction.CREDIT_HOLD),
            LadderStep("lawyer_letter", 15, (_E, _L), signed=True, approval=True),
            LadderStep("preservation_pack", 30, (_T,), approval=True, action=pack, assignee=legal),
        ),
    }
