"""The signature block of a notice: who signs, the date, the seal (the configured image, else a
drawn specimen seal) and the signature panel, placed as each language's letters are signed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from bot.errors import InputError
from bot.render.fonts import LoadedFont
from bot.render.letter_style import INK, SEAL_RED, Labels
from bot.render.signature_panel import draw_signature_panel, signature_box
from bot.render.signing import PANEL_SIZE, SignatureBox


class SignatureBlock(Flowable):  # type: ignore[misc]  # ReportLab is untyped
    """The signature block: who signs, the date, the seal and the signature panel's box.

    Where the seal goes follows each language's practice. A Chinese letter ends with the company's
    name and the date on the right, the seal pressed over both (盖章: the seal over the name, 骑年盖月
    across the date) and over nothing else. An English letter's signature block stands flush left
    ("For and on behalf of", the company, the signature panel, the date) with the seal beside it,
    covering no words. The signature panel never touches the seal or a word outside it.
    """

    SEAL_DIAMETER = 36 * mm
    GAP = 5 * mm  # between the seal, the panel and the words around them

    def __init__(
        self,
        legal_name: str,
        date_line: str,
        labels: Labels,
        font: LoadedFont,
        seal_image: Path | None,
        panel: list[str],
        record: Callable[[SignatureBox], None],
        *,
        chinese: bool,
    ) -> None:
        super().__init__()
        self.panel = panel
        self.legal_name = legal_name
        self.date_line = date_line
        self.labels = labels
        self.font = font
        self.seal_image = seal_image
        self.record = record
        self.chinese = chinese

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        self.height = (40 if self.chinese else 46) * mm
        return available_width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(INK)
        if self.chinese:
            self._draw_chinese(canvas)
        else:
            self._draw_english(canvas)
        canvas.restoreState()

    def _draw_chinese(self, canvas: Canvas) -> None:
        right, radius = self.width, self.SEAL_DIAMETER / 2
        name_size = _fit_size(self.legal_name, self.font.bold, 12, 80 * mm)
        name_width = stringWidth(self.legal_name, self.font.bold, name_size)
        date_width = stringWidth(self.date_line, self.font.regular, 10.5)
        name_y, date_y = 22 * mm, 13 * mm
        canvas.setFont(self.font.bold, name_size)
        canvas.drawRightString(right, name_y, self.legal_name)
        # The date under the middle of the name, as a Chinese letter is signed; never past the margin.
        middle = right - name_width / 2
        date_middle = min(middle, right - date_width / 2)
        canvas.setFont(self.font.regular, 10.5)
        canvas.drawCentredString(date_middle, date_y, self.date_line)
        seal_x = min(middle, right - radius)
        seal_y = (name_y + date_y) / 2 + 1.5 * mm  # between the two lines' middles
        self._draw_seal(canvas, seal_x, seal_y)
        leftmost_word = min(right - name_width, date_middle - date_width / 2)
        self._place_panel(canvas, min(seal_x - radius, leftmost_word) - self.GAP - PANEL_SIZE[0], 2 * mm)

    def _draw_english(self, canvas: Canvas) -> None:
        radius = self.SEAL_DIAMETER / 2
        top = self.height - 4 * mm
        column = self.width - self.SEAL_DIAMETER - 3 * self.GAP  # the words and the panel
        canvas.setFont(self.font.regular, 9.5)
        canvas.drawString(0, top, self.labels.signed_for)
        name_size = _fit_size(self.legal_name, self.font.bold, 11, column)
        canvas.setFont(self.font.bold, name_size)
        canvas.drawString(0, top - 6 * mm, self.legal_name)
        panel_y = top - 9 * mm - PANEL_SIZE[1]
        self._place_panel(canvas, 0, panel_y)
        canvas.setFont(self.font.regular, 9.5)
        canvas.drawString(0, panel_y - 5 * mm, self.date_line)
        widest = max(
            stringWidth(self.labels.signed_for, self.font.regular, 9.5),
            stringWidth(self.legal_name, self.font.bold, name_size),
            stringWidth(self.date_line, self.font.regular, 9.5),
            PANEL_SIZE[0],
        )
        seal_x = widest + 2 * self.GAP + radius
        seal_y = self.height / 2 + 2 * mm
        self._draw_seal(canvas, seal_x, seal_y)
        if self.labels.seal_note:  # the caption under the seal, clear of it
            canvas.setFont(self.font.regular, 8)
            canvas.drawCentredString(seal_x, seal_y - radius - 4 * mm, self.labels.seal_note)

    def _place_panel(self, canvas: Canvas, x: float, y: float) -> None:
        x = max(0.0, x)
        draw_signature_panel(canvas, x, y, self.font, self.panel)
        self.record(signature_box(canvas, x, y))

    def _draw_seal(self, canvas: Canvas, cx: float, cy: float) -> None:
        radius = self.SEAL_DIAMETER / 2
        if self.seal_image is not None:
            try:
                image = ImageReader(str(self.seal_image))
            except OSError as exc:
                raise InputError(f"[signing] seal_image: cannot read {self.seal_image}: {exc}") from None
            canvas.drawImage(
                image,
                cx - radius,
                cy - radius,
                self.SEAL_DIAMETER,
                self.SEAL_DIAMETER,
                mask="auto",
                preserveAspectRatio=True,
                anchor="c",
            )
            return
        _draw_specimen_seal(canvas, cx, cy, radius, self.legal_name, self.labels.specimen, self.font)


def _draw_specimen_seal(
    canvas: Canvas, cx: float, cy: float, radius: float, name: str, specimen: str, font: LoadedFont
) -> None:
    """A round red seal: the legal name along the upper rim, a star, and SPECIMEN across the middle."""
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setStrokeAlpha(0.85)
    canvas.setFillAlpha(0.85)
    canvas.setLineWidth(2.2)
    canvas.circle(cx, cy, radius - 1.2, stroke=1, fill=0)
    _star(canvas, cx, cy + 1.5 * mm, radius * 0.28)
    characters = list(name)
    size = max(5.0, min(11.0, 2 * math.pi * radius * 0.62 / max(len(characters), 1)))
    sweep = min(250.0, len(characters) * size * 1.05 / (radius * 0.78) * 180 / math.pi)
    start = 90 + sweep / 2
    canvas.setFont(font.bold, size)
    for index, character in enumerate(characters):
        angle = start - (sweep * (index + 0.5) / len(characters))
        theta = math.radians(angle)
        x = cx + (radius * 0.74) * math.cos(theta)
        y = cy + (radius * 0.74) * math.sin(theta)
        canvas.saveState()
        canvas.translate(x, y)
        canvas.rotate(angle - 90)
        canvas.drawCentredString(0, -size / 3, character)
        canvas.restoreState()
    canvas.setFont(font.bold, 6.5)
    canvas.drawCentredString(cx, cy - radius * 0.52, specimen)
    canvas.restoreState()


def _star(canvas: Canvas, cx: float, cy: float, radius: float) -> None:
    path = canvas.beginPath()
    for point in range(10):
        r = radius if point % 2 == 0 else radius * 0.4
        theta = math.radians(90 + point * 36)
        x, y = cx + r * math.cos(theta), cy + r * math.sin(theta)
        if point == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)


def _fit_size(text: str, font_name: str, size: float, width: float) -> float:
    while size > 6 and stringWidth(text, font_name, size) > width:
        size -= 0.5
    return size
