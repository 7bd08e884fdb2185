"""The console in zh-CN and en: gettext catalogs (``bot/web/locales/*/LC_MESSAGES/*.po``) read
with Babel when the app starts, one Jinja2 environment per language, and dates and amounts in that
language's format through Babel."""

from __future__ import annotations

import gettext
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh-CN", "en")  # a user's `language`; the first is the default
_BABEL = {"zh-CN": "zh_CN", "en": "en"}


def catalog_files(language: str) -> list[Path]:
    """The .po files of ``language`` (a Babel locale such as ``zh_CN``): ``console.po`` for the
    pages every role shares and one file per page beside it (``worklist.po``, ...)."""
    return sorted((WEB / "locales" / language / "LC_MESSAGES").glob("*.po"))


def read_catalog(language: str) -> Catalog:
    """Every message of ``language``'s .po files in one catalog; a msgid in two files is an error
    (unless their contexts, ``msgctxt``, differ)."""
    merged = Catalog(locale=language, domain="console")
    for path in catalog_files(language):
        with path.open("rb") as po:
            for message in read_po(po, locale=language):
                if not message.id:
                    continue
                if merged.get(message.id, message.context) is not None:  # the same msgid and msgctxt
                    raise ValueError(f"{path}: {message.id!r} is translated in another .po file too")
                merged[message.id] = message
    return merged


def translations(language: str) -> gettext.GNUTranslations:
    """The catalog of ``language``, compiled in memory from its .po files."""
    catalog = read_catalog(_BABEL[language])
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def negotiate(accept_language: str) -> str:
    """The console's language for a visitor not logged in, from ``Accept-Language``."""
    wanted = [part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",")]
    try:
        found = Locale.negotiate([w for w in wanted if w], list(_BABEL.values()), sep="_")
    except (UnknownLocaleError, ValueError):
        found = None
    return next((code for code, babel in _BABEL.items() if babel == str(found)), LANGUAGES[0])


class Pages:
    """One Jinja2 environment per language, with ``_``/``gettext`` and the ``when``/``money`` filters."""

    def __init__(self, timezone: str) -> None:
        zone = ZoneInfo(timezone)
        self.environments: dict[str, Environment] = {}
        for language in LANGUAGES:
            env = Environment(
                loader=FileSystemLoader(WEB / "templates"),
                autoescape=select_autoescape(default=True),
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
            locale = _BABEL[language]

            def when(value: datetime | None, locale: str = locale) -> str:
                return format_datetime(value, "medium", tzinfo=zone, locale=locale) if value else "—"

            def money(value: Decimal | None, currency: str, locale: str = locale) -> str:
                return format_currency(value, currency, locale=locale) if value is not None else "—"

            env.filters["when"] = when
            env.filters["money"] = money
            env.globals["language"] = language
            self.environments[language] = env

    def render(self, language: str, template: str, **context: object) -> str:
        env = self.environments.get(language) or self.environments[LANGUAGES[0]]
        return env.get_template(template).render(**context)
