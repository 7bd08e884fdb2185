"""The furniture of every page of a notice: the footer (company, reference, "page x of y", for which
the pages are held back until the end) and the document's creation date (the signing time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfgen.canvas import Canvas

from bot.render.fonts import LoadedFont
from bot.render.letter_style import ACCENT, MARGIN, PAGE_WIDTH, RULE, Labels


@dataclass(frozen=True, slots=True)
class PageFooter:
    font: LoadedFont
    labels: Labels
    reference: str
    company: str

    def draw(self, canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.4)
        canvas.line(MARGIN, MARGIN + 3 * mm, PAGE_WIDTH - MARGIN, MARGIN + 3 * mm)
        canvas.setFont(self.font.regular, 7.5)
        canvas.setFillColor(ACCENT)
        canvas.drawString(
            MARGIN, MARGIN - 1 * mm, f"{self.company} · {self.labels.reference} {self.reference}"
        )
        canvas.drawRightString(
            PAGE_WIDTH - MARGIN, MARGIN - 1 * mm, self.labels.page.format(page=page, pages=pages)
        )
        canvas.restoreState()


def numbered_canvas(footer: PageFooter, pages: list[int]) -> Any:
    """A canvas class that holds pages back until the end, so each footer can say 'of y'."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # ReportLab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # ReportLab starts every page in Helvetica, a font it never embeds: start in ours instead.
            kwargs["initialFontName"] = kwargs.get("initialFontName") or footer.font.regular
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            pages.append(total)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                footer.draw(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def dated(created: datetime) -> Callable[[Canvas, Any], None]:
    """A page callback that dates the document ``created`` (its /CreationDate and /ModDate).

    ``invariant=True`` keeps a layout byte for byte the same for the same input, and dates every
    file 2000-01-01; the signing time is what a reader of the file's properties must see instead.
    """
    utc = created.astimezone(UTC)
    stamp = TimeStamp(invariant=True)
    stamp.t = utc.timestamp()
    stamp.lt = utc.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh = stamp.dmm = 0
    stamp.tzname = "UTC"

    def on_page(canvas: Canvas, document: Any) -> None:
        canvas._doc._timeStamp = stamp  # read when the document's /Info is written, at the end

    return on_page
