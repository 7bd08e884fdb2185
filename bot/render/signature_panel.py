"""The visible signature panel: its words, drawn wrapped in a box of ``PANEL_SIZE``, and the box's
page and absolute position, where the PAdES signature widget is placed.

Used by the notice's signature block and by the chronology.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from bot.render.fonts import LoadedFont
from bot.render.letter_style import ACCENT
from bot.render.signing import PANEL_SIZE, SignatureBox


def draw_signature_panel(canvas: Canvas, x: float, y: float, font: LoadedFont, lines: Sequence[str]) -> None:
    """The words of the visible signature in a box of PANEL_SIZE at (x, y), each line wrapped to the
    box (never cut); the signature widget placed on the same box draws the frame."""
    width, height = PANEL_SIZE
    size, wrapped = _panel_text(font, lines[1:], width - 14)
    canvas.saveState()
    canvas.setFillColor(colors.Color(0.93, 0.95, 0.99))
    canvas.rect(x, y, width, height, stroke=0, fill=1)
    canvas.setFillColor(ACCENT)
    canvas.setFont(font.bold, 8.5)
    canvas.drawString(x + 7, y + height - 14, lines[0])
    canvas.setFont(font.regular, size)
    for index, line in enumerate(wrapped):
        canvas.drawString(x + 7, y + height - 25 - index * (size + 1.5), line)
    canvas.restoreState()


def _panel_text(font: LoadedFont, lines: Sequence[str], width: float) -> tuple[float, list[str]]:
    """The largest size from 7 pt down at which the lines, wrapped to ``width``, fit the panel."""
    room = PANEL_SIZE[1] - 25 - 4  # from the first line's baseline down to the box's bottom edge
    size = 7.0
    while True:
        wrapped = [part for line in lines for part in _wrap(line, font.regular, size, width)]
        if (len(wrapped) - 1) * (size + 1.5) <= room or size <= 5:
            return size, wrapped
        size -= 0.5


def _wrap(text: str, font_name: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``: broken at spaces, a CJK run or a too-long word
    anywhere."""
    lines: list[str] = []
    current = ""
    for piece in re.findall(r"\S+\s*|\s+", text):
        if stringWidth(current + piece.rstrip(), font_name, size) <= width:
            current += piece
            continue
        if current.strip():
            lines.append(current.rstrip())
            current = ""
        for character in piece:
            if stringWidth(current + character, font_name, size) > width and current.strip():
                lines.append(current.rstrip())
                current = ""
            current += character if current or not character.isspace() else ""
    if current.strip():
        lines.append(current.rstrip())
    return lines


def signature_box(canvas: Canvas, x: float, y: float) -> SignatureBox:
    """The page and absolute box of a signature panel drawn at (x, y) in the current coordinates."""
    width, height = PANEL_SIZE
    x1, y1 = canvas.absolutePosition(x, y)
    x2, y2 = canvas.absolutePosition(x + width, y + height)
    return SignatureBox(
        page=canvas.getPageNumber() - 1,
        box=(math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2)),
    )


def panel_lines(language: str, signer_name: str) -> list[str]:
    """The words of the visible signature panel."""
    if language.lower().startswith("zh"):
        return [
            "电子签名 · PAdES",
            f"签署人：{signer_name}",
            "签署时间：见签名属性",
            "校验：dunbot notice verify",
        ]
    return [
        "Digitally signed · PAdES",
        f"Signer: {signer_name}",
        "Time of signing: in the signature",
        "Verify: dunbot notice verify",
    ]
