"""The console's message catalogs: every text the templates translate is in both .po files, the
zh-CN one translates all of them, and the visitor's language is negotiated from Accept-Language."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from bot.web.console.i18n import WEB, catalog_files, negotiate, read_catalog, translations

DYNAMIC = {"collector", "manager", "legal", "admin", "manual", "letter", "review", "approval"}  # _(value)


def _catalog(language: str) -> dict[str, str]:
    return {m.id: m.string for m in read_catalog(language) if m.id}


def _used() -> set[str]:
    found = extract_from_dir(
        str(WEB / "templates"),
        method_map=[("**.html", "jinja2.ext:babel_extract")],
        options_map={"**.html": {}},
    )
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def test_every_template_text_is_translated() -> None:
    used = _used()
    assert "Log in" in used and "Worklist" in used  # the extraction sees the templates
    for language in ("en", "zh_CN"):
        catalog = _catalog(language)
        assert used - set(catalog) == set(), language
        assert DYNAMIC - set(catalog) == set(), language
    zh = _catalog("zh_CN")
    assert all(zh[m] and zh[m] != m for m in used), [m for m in used if not zh[m] or zh[m] == m]


def test_catalogs_compile_and_translate() -> None:
    assert translations("zh-CN").gettext("Log in") == "登录"
    assert translations("en").gettext("Log in") == "Log in"


@pytest.mark.parametrize(
    "header, language",
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9", "zh-CN"),
        ("", "zh-CN"),
        ("fr-FR", "zh-CN"),
        ("garbage;;", "zh-CN"),
    ],
)
def test_language_of_a_visitor(header: str, language: str) -> None:
    assert negotiate(header) == language


def test_templates_have_no_inline_script_or_style() -> None:
    for template in Path(WEB / "templates").glob("*.html"):
        text = template.read_text()
        assert "<script" not in text and "style=" not in text and "<style" not in text, template.name


def test_both_languages_have_the_same_files() -> None:
    names = {language: [path.name for path in catalog_files(language)] for language in ("en", "zh_CN")}
    assert "console.po" in names["en"]
    assert names["en"] == names["zh_CN"]
