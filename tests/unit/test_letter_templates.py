"""The signed-letter bodies: every step and language renders, escapes, and parses as ReportLab markup."""

from __future__ import annotations

import re

import pytest
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph

from bot.config import DEFAULT_BANNED_PHRASES
from bot.domain.compliance import banned_phrase_hits
from bot.render.context import example_context
from bot.render.environment import TemplateKind, TemplateRenderError, missing_templates, render_letter

LETTERS = ("due_statement", "formal_notice", "credit_hold", "final_demand", "lawyer_letter")
LANGUAGES = ("zh-CN", "en")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", LETTERS)
@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_letter_renders_the_facts(name: str, language: str, count: int) -> None:
    context = example_context(language, invoice_count=count)
    text = render_letter(language, name, context)
    for invoice in context["invoices"]:
        assert invoice["number"] in text
    for total in context["totals"]:
        assert f"{total['currency']} {total['outstanding']}" in text
    assert context["customer"]["name"] in text
    assert context["company"]["bank_account"] in text
    assert context["reference"] in text
    assert bool(CJK.search(text)) is (language == "zh-CN")
    assert banned_phrase_hits(text, DEFAULT_BANNED_PHRASES) == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", LETTERS)
def test_each_paragraph_is_valid_reportlab_markup(name: str, language: str) -> None:
    context = example_context(language)
    context["customer"]["name"] = "Smith & Sons <Holdings>"
    text = render_letter(language, name, context)
    assert "Smith &amp; Sons &lt;Holdings&gt;" in text
    style = getSampleStyleSheet()["Normal"]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert len(paragraphs) >= 5
    for paragraph in paragraphs:
        Paragraph(paragraph, style)  # raises ValueError on malformed markup


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", LETTERS)
def test_no_letter_template_is_missing(name: str, language: str) -> None:
    assert missing_templates(TemplateKind.LETTER, language, name) == []


def test_final_demand_gives_seven_days_and_the_lawyer_letter_is_a_draft() -> None:
    assert "七（7）日内" in render_letter("zh-CN", "final_demand", example_context("zh-CN"))
    assert "within seven (7) days" in render_letter("en", "final_demand", example_context("en"))
    assert "草稿" in render_letter("zh-CN", "lawyer_letter", example_context("zh-CN"))
    assert "draft for approval" in render_letter("en", "lawyer_letter", example_context("en"))


def test_an_unknown_letter_is_a_clear_error() -> None:
    with pytest.raises(TemplateRenderError, match=r"letters/en/no_such_step\.j2"):
        render_letter("en", "no_such_step", example_context("en"))
