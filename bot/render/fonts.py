"""Fonts for signed notices: found on the system or named in the config, embedded, every glyph checked.

ReportLab silently draws nothing for a character its font lacks, so a notice could lose a customer's
name or an amount without any error. Here a letter's font is chosen by the characters it must show:

* zh-CN letters use a TrueType CJK font: ``[signing] cjk_font`` when set, else the first one found on
  the system (``fc-list`` when present, else the usual font folders). Without one a zh-CN notice is
  refused with a message that names the setting.
* en letters use ``[signing] latin_font`` when set, else DejaVu Serif when the system has it, else the
  Bitstream Vera font ReportLab ships; when the text holds characters that font lacks (a Chinese name
  in an English letter), the CJK font is used if it has them all.

Every character of every string drawn is checked against the chosen font's character map before
anything is laid out: a missing glyph is a :class:`~bot.errors.MissingGlyphs` error naming them.
Loading a TrueType font takes a tenth of a second, so loaded fonts are cached per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import reportlab
from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from bot.config import Settings
from bot.errors import FontUnavailable, MissingGlyphs

# Known TrueType (glyf-outline) CJK fonts, best first. CFF-based OpenType collections such as Noto
# Sans CJK cannot be embedded by ReportLab; they are skipped when found.
CJK_FONT_FILES = (
    "wqy-zenhei.ttc",
    "wqy-microhei.ttc",
    "NotoSansSC-Regular.ttf",
    "NotoSerifSC-Regular.ttf",
    "SourceHanSansSC-Regular.ttf",
    "simsun.ttc",
    "simhei.ttf",
    "msyh.ttc",
    "Arial Unicode.ttf",
)
LATIN_FONT_FILES = ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf", "NotoSerif-Regular.ttf")
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
BUNDLED_LATIN = Path(reportlab.__file__).resolve().parent / "fonts" / "Vera.ttf"
BUNDLED_LATIN_BOLD = BUNDLED_LATIN.with_name("VeraBd.ttf")

# Characters a layout may contain that need no glyph: line breaks and other controls.
_NO_GLYPH_NEEDED = frozenset("\n\r\t\u200b\ufeff")


def missing_glyphs(font: Path, characters: Sequence[str]) -> MissingGlyphs:
    """The error for characters ``font`` cannot draw, each named with its code point."""
    shown = ", ".join(f"{c!r} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})" for c in characters[:10])
    more = f" and {len(characters) - 10} more" if len(characters) > 10 else ""
    return MissingGlyphs(
        f"the font {font} has no glyph for {shown}{more}; the notice was not rendered. "
        "Set [signing] cjk_font (or latin_font) to a TrueType font that has them",
        list(characters),
    )


@dataclass(frozen=True, slots=True)
class LoadedFont:
    """A registered TrueType font: ReportLab names for regular and bold, and its character map."""

    path: Path
    regular: str
    bold: str
    codepoints: frozenset[int]

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Characters of ``texts`` this font cannot draw, in first-seen order."""
        seen: dict[str, None] = {}
        for text in texts:
            for character in text:
                if character in _NO_GLYPH_NEEDED or ord(character) in self.codepoints:
                    continue
                seen.setdefault(character)
        return list(seen)


@dataclass(frozen=True, slots=True)
class FontChoice:
    """Where a letter's fonts come from (from ``[signing]``)."""

    cjk_font: Path | None = None  # a configured path; found on the system when None
    latin_font: Path | None = None
    search_dirs: tuple[Path, ...] | None = None  # None: fc-list, then FONT_DIRS


def font_choice(settings: Settings) -> FontChoice:
    """The fonts ``[signing]`` names (found on the system where it names none)."""
    signing = settings.signing
    return FontChoice(
        cjk_font=settings.path(signing.cjk_font) if signing.cjk_font else None,
        latin_font=settings.path(signing.latin_font) if signing.latin_font else None,
    )


_lock = threading.Lock()
_loaded: dict[tuple[Path, Path | None], LoadedFont] = {}


def load_font(path: Path, bold_path: Path | None = None) -> LoadedFont:
    """Register ``path`` (and a bold face, else the same face for bold) with ReportLab, once."""
    key = (path.resolve(), bold_path.resolve() if bold_path else None)
    with _lock:
        if key in _loaded:
            return _loaded[key]
        index = len(_loaded)
        # Without a bold face (CJK fonts rarely have one) bold text uses the regular face: one subset.
        regular = f"DunbotF{index}"
        bold = f"DunbotF{index}B" if bold_path else regular
        try:
            faces = [TTFont(regular, str(path), subfontIndex=0)]
            if bold_path:
                faces.append(TTFont(bold, str(bold_path), subfontIndex=0))
        except (TTFError, OSError) as exc:
            raise FontUnavailable(f"cannot use the font {path}: {exc}") from None
        for face in faces:
            pdfmetrics.registerFont(face)
        for is_bold, is_italic, name in ((0, 0, regular), (1, 0, bold), (0, 1, regular), (1, 1, bold)):
            addMapping(regular, is_bold, is_italic, name)
        loaded = LoadedFont(
            path=path, regular=regular, bold=bold, codepoints=frozenset(faces[0].face.charToGlyph)
        )
        _loaded[key] = loaded
        return loaded


def _usable(path: Path) -> bool:
    try:
        TTFont(f"probe-{path.name}", str(path), subfontIndex=0)
    except (TTFError, OSError):
        return False
    return True


def _fc_list_files() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        result = subprocess.run(
            ["fc-list", ":", "file"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line.split(":")[0].strip()) for line in result.stdout.splitlines() if line.strip()]


def _candidates(names: Sequence[str], search_dirs: tuple[Path, ...] | None) -> list[Path]:
    wanted = {name.lower(): rank for rank, name in enumerate(names)}
    found: list[tuple[int, Path]] = []
    if search_dirs is None:
        files = _fc_list_files()
        folders = [Path(d).expanduser() for d in FONT_DIRS]
    else:
        files, folders = [], list(search_dirs)
    for folder in folders:
        if folder.is_dir():
            for root, _dirs, names_in_dir in os.walk(folder):
                files.extend(Path(root) / n for n in names_in_dir)
    for file in files:
        rank = wanted.get(file.name.lower())
        if rank is not None and file.is_file():
            found.append((rank, file))
    return [path for _, path in sorted(set(found))]


_found_cjk: dict[tuple[Path, ...] | None, Path | None] = {}


def find_cjk_font(search_dirs: tuple[Path, ...] | None = None) -> Path | None:
    """The best TrueType CJK font on this system, or None."""
    with _lock:
        if search_dirs in _found_cjk:
            return _found_cjk[search_dirs]
    choice = next((p for p in _candidates(CJK_FONT_FILES, search_dirs) if _usable(p)), None)
    with _lock:
        _found_cjk[search_dirs] = choice
    return choice


def cjk_font(choice: FontChoice) -> LoadedFont:
    """The CJK font of ``choice``; raises :class:`FontUnavailable` naming ``[signing] cjk_font``."""
    if choice.cjk_font is not None:
        if not choice.cjk_font.is_file():
            raise FontUnavailable(f"[signing] cjk_font: {choice.cjk_font} does not exist")
        return load_font(choice.cjk_font)
    found = find_cjk_font(choice.search_dirs)
    if found is None:
        raise FontUnavailable(
            "no TrueType CJK font was found on this system, so a zh-CN notice cannot be rendered: "
            "install one (Debian/Ubuntu: apt install fonts-wqy-zenhei) or set [signing] cjk_font "
            "to a .ttf/.ttc file"
        )
    return load_font(found)


def latin_font(choice: FontChoice) -> LoadedFont:
    """The font for English letters: configured, else DejaVu Serif, else ReportLab's bundled Vera."""
    if choice.latin_font is not None:
        if not choice.latin_font.is_file():
            raise FontUnavailable(f"[signing] latin_font: {choice.latin_font} does not exist")
        return load_font(choice.latin_font)
    for path in _candidates(LATIN_FONT_FILES, choice.search_dirs):
        if _usable(path):
            bold = path.with_name(path.name.replace("-Regular", "-Bold").replace("Serif.", "Serif-Bold."))
            return load_font(path, bold if bold.is_file() and bold != path else None)
    return load_font(BUNDLED_LATIN, BUNDLED_LATIN_BOLD)


def font_for(language: str, texts: Sequence[str], choice: FontChoice) -> LoadedFont:
    """The font that can draw every character of ``texts`` for a letter in ``language``.

    Raises :class:`~bot.errors.FontUnavailable` when no suitable font exists and
    :class:`~bot.errors.MissingGlyphs` when the
    best font still lacks characters.
    """
    if language.lower().startswith("zh"):
        font = cjk_font(choice)
        missing = font.missing(texts)
        if missing:
            raise missing_glyphs(font.path, missing)
        return font
    font = latin_font(choice)
    missing = font.missing(texts)
    if not missing:
        return font
    try:
        fallback = cjk_font(choice)
    except FontUnavailable:
        raise missing_glyphs(font.path, missing) from None
    still_missing = fallback.missing(texts)
    if still_missing:
        raise missing_glyphs(fallback.path, still_missing)
    return fallback
