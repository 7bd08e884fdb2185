"""Every template a ladder uses, rendered once per language with the example context.

A template that exists can still fail to render (a syntax error, an unknown name, something the
sandbox refuses). Found here, it is a problem ``dunbot check-config`` reports and a cycle's preflight
stops on, before the day's plan is recorded, not a blocked message after it. Templates that are
missing are left to the config's own check (``no template ...``), which names them once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.domain.ledger import Channel, Language, Tactic
from bot.domain.policy import LadderStep
from bot.render.context import example_context
from bot.render.environment import (
    TemplateKind,
    TemplateRenderError,
    missing_templates,
    render_email,
    render_letter,
    render_sms,
    render_task,
)

_Render = Callable[[str, str, Mapping[str, Any]], object]
_RENDERERS: Mapping[Channel, tuple[TemplateKind, _Render]] = {
    Channel.EMAIL: (TemplateKind.EMAIL, render_email),
    Channel.SMS: (TemplateKind.SMS, render_sms),
    Channel.VOICE: (TemplateKind.SMS, render_sms),  # a call reads the SMS text
    Channel.TASK: (TemplateKind.TASK, render_task),
    Channel.LETTER: (TemplateKind.LETTER, render_letter),
}


def template_render_problems(ladders: Mapping[Tactic, Sequence[LadderStep]], file: str) -> list[str]:
    """``file:ladder.<tactic>[i]: template ...: problem`` for each template of ``ladders`` that exists
    but does not render; each template is tried once per language, under the first step using it."""
    problems: list[str] = []
    tried: set[tuple[TemplateKind, str, str]] = set()
    for tactic, steps in ladders.items():
        for index, step in enumerate(steps):
            channels = set(step.channels) | ({Channel.LETTER} if step.signed else set())
            for channel in sorted(channels, key=lambda c: c.value):
                kind, render = _RENDERERS[channel]
                for language in Language:
                    attempt = (kind, language.value, step.template_name)
                    if attempt in tried:
                        continue
                    tried.add(attempt)
                    if missing_templates(kind, language.value, step.template_name):
                        continue
                    try:
                        render(language.value, step.template_name, example_context(language.value))
                    except TemplateRenderError as exc:
                        problems.append(f"{file}:ladder.{tactic.value}[{index}]: {exc}")
    return problems
