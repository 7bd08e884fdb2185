"""The notice as a page: letterhead, recipient, the letter text, signature block, seal and schedule.

ReportLab's platypus lays out an A4 letter from the rendered letter template (one paragraph per
blank-line-separated block; a first ``<b>…</b>`` paragraph is the title) and the message context:

* letterhead (trading and legal name, address, phone, e-mail), reference number and date;
* the recipient block (name and postal address) and the customer number;
* the body, then the signature block: the company's legal name and date, the seal (the configured
  image, else a drawn seal marked SPECIMEN) and, beside it, the box where the PAdES signature's
  visible appearance goes (its page and position are returned for the signer);
* a schedule of the invoices (number, currency, issue date, due date, outstanding, days overdue,
  accrued late fee) with totals per currency, split over pages with the header repeated;
* a footer on every page: reference and "page x of y".

Every string drawn is checked against the font before layout (:mod:`bot.render.fonts`).
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib import textsplit as _textsplit
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, TimeStamp
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as _paragraph

from bot.errors import InputError
from bot.render.context import MessageContext
from bot.render.fonts import FontChoice, LoadedFont, font_for
from bot.render.signing import PANEL_SIZE, SignatureBox

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1A1A1A")
ACCENT = colors.HexColor("#1F3A68")
SEAL_RED = colors.HexColor("#C8102E")
RULE = colors.HexColor("#9AA5B8")

# ReportLab's CJK line breaker keeps the marks of its "cannot start a line" table off the start of a
# line (hanging them in the margin); the table has 。、）but not the full-width ，：；！？ of Chinese
# text, so a line could begin with "，". Added once, for every paragraph of the process.
for _module in (_textsplit, _paragraph):  # the table is copied into paragraph at its import
    _module.ALL_CANNOT_START += "".join(c for c in "，：；！？》」』" if c not in _module.ALL_CANNOT_START)

_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"^<b>(.+)</b>$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Labels:
    """The fixed words of a notice's layout in one language."""

    reference: str
    date: str
    customer_no: str
    recipient: str
    schedule: str
    columns: tuple[str, str, str, str, str, str, str]
    total: str
    not_due: str
    seal_note: str
    page: str  # format with {page} and {pages}
    specimen: str
    signed_for: str
    colon: str  # after a label: "：" in Chinese, ": " in English


LABELS: dict[str, Labels] = {
    "zh-CN": Labels(
        reference="编号",
        date="日期",
        customer_no="客户编号",
        recipient="致",
        schedule="附表：未付款项明细",
        columns=("发票号", "币种", "开票日期", "到期日", "未付金额", "逾期天数", "违约金"),
        total="合计",
        not_due="未到期",
        seal_note="",  # the seal itself is pressed over the name: no "（盖章）" placeholder
        page="第 {page} 页 / 共 {pages} 页",
        specimen="样章 SPECIMEN",
        signed_for="",
        colon="：",
    ),
    "en": Labels(
        reference="Reference",
        date="Date",
        customer_no="Customer no.",
        recipient="To",
        schedule="Schedule: amounts outstanding",
        columns=("Invoice", "Currency", "Issued", "Due", "Outstanding", "Days overdue", "Late fee"),
        total="Total",
        not_due="not yet due",
        seal_note="(company seal)",  # the caption under the seal
        page="Page {page} of {pages}",
        specimen="SPECIMEN",
        signed_for="For and on behalf of",
        colon=": ",
    ),
}


@dataclass(frozen=True, slots=True)
class NoticeContent:
    """What goes on the page: the rendered letter text and the facts around it."""

    language: str
    context: MessageContext
    body: str  # render_letter output: ReportLab markup paragraphs separated by blank lines
    recipient_address: str  # postal address, lines separated by newlines ("" when unknown)
    seal_image: Path | None = None
    signer_name: str = ""  # the certificate's common name, shown in the signature panel


@dataclass(frozen=True, slots=True)
class LaidOutNotice:
    """The unsigned PDF and where its signature goes."""

    pdf: bytes
    signature: SignatureBox
    pages: int


def labels_for(language: str) -> Labels:
    """The layout words for ``language`` (zh-CN for any zh variant, else English)."""
    return LABELS["zh-CN"] if language.lower().startswith("zh") else LABELS["en"]


def letter_date(as_of: str, language: str) -> str:
    """The date line: 2026年12月1日 in Chinese, 1 December 2026 in English."""
    day = date.fromisoformat(as_of)
    if language.lower().startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {day:%B} {day.year}"


def lay_out_notice(content: NoticeContent, fonts: FontChoice, created: datetime) -> LaidOutNotice:
    """Lay out the notice dated ``created`` (the signing time); raises
    :class:`~bot.render.fonts.MissingGlyphs` before drawing anything."""
    labels = labels_for(content.language)
    paragraphs = [p.strip() for p in content.body.split("\n\n") if p.strip()]
    if not paragraphs:
        raise InputError("the letter text is empty; nothing to lay out")
    title_match = _TITLE.match(paragraphs[0])
    title = title_match.group(1) if title_match else ""
    body = paragraphs[1:] if title_match else paragraphs
    ctx = content.context
    company = ctx["company"]
    date_line = letter_date(ctx["as_of"], content.language)
    header_lines = [
        company["name"],
        company["legal_name"],
        " · ".join(part for part in (company["address"], company["phone"], company["email"]) if part),
    ]
    recipient_lines = [ctx["customer"]["name"], *_lines(content.recipient_address)]
    rows = _schedule_rows(ctx, labels)
    panel = panel_lines(content.language, content.signer_name)
    drawn = [
        *panel,
        "…",
        *header_lines,
        *recipient_lines,
        title,
        *(_plain(p) for p in body),
        *(cell for row in rows for cell in row),
        *labels.columns,
        labels.reference,
        labels.date,
        labels.customer_no,
        labels.schedule,
        labels.seal_note,
        labels.page.format(page=0, pages=0),
        labels.specimen,
        labels.signed_for,
        ctx["reference"],
        ctx["customer"]["id"],
        date_line,
        "0123456789:/ ",
    ]
    font = font_for(content.language, drawn, fonts)
    styles = _Styles(font, chinese=content.language.lower().startswith("zh"))

    recorded: list[SignatureBox] = []
    story: list[Flowable] = []
    story += _letterhead(header_lines, styles)
    story.append(_reference_block(labels, ctx["reference"], date_line, ctx["customer"]["id"], styles))
    story.append(Spacer(1, 4 * mm))
    story += [Paragraph(_escape(line), styles.recipient_bold if i == 0 else styles.recipient)
              for i, line in enumerate(recipient_lines)]  # fmt: skip
    story.append(Spacer(1, 6 * mm))
    if title:
        story.append(Paragraph(title, styles.title))
        story.append(Spacer(1, 4 * mm))
    closing: list[Flowable] = []
    for index, paragraph in enumerate(body):
        style = styles.body_style(index, paragraph, len(body))
        (closing if style is styles.closing else story).append(Paragraph(paragraph, style))
    block = _SignatureBlock(
        company["legal_name"],
        date_line,
        labels,
        font,
        content.seal_image,
        panel,
        recorded.append,
        chinese=styles.chinese,
    )
    # The closing formula (此致 / 敬礼！, "Yours faithfully,") never leaves the signature behind.
    story.append(KeepTogether([*closing, Spacer(1, 2 * mm), block]))
    story.append(CondPageBreak(40 * mm))
    story.append(Spacer(1, 6 * mm))
    story.append(Paragraph(labels.schedule, styles.heading))
    story.append(Spacer(1, 2 * mm))
    story.append(_schedule_table(rows, labels, ctx, styles))

    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 6 * mm,
        title=(title and _plain(title)) or ctx["reference"],
        author=company["legal_name"],
        subject=ctx["reference"],
        creator="dunbot",
        invariant=True,
        initialFontName=font.regular,
        lang="zh-CN" if styles.chinese else "en",
    )
    frame = Frame(MARGIN, MARGIN + 6 * mm, CONTENT_WIDTH, PAGE_HEIGHT - 2 * MARGIN - 6 * mm, id="body")
    document.addPageTemplates([PageTemplate(id="letter", frames=[frame], onPage=dated(created))])
    footer = _Footer(font, labels, ctx["reference"], company["legal_name"])
    pages: list[int] = []
    document.build(story, canvasmaker=_numbered_canvas(footer, pages))
    if len(recorded) != 1:
        raise InputError("the signature block was not placed exactly once; the notice layout is broken")
    return LaidOutNotice(pdf=buffer.getvalue(), signature=recorded[0], pages=pages[0] if pages else 1)


# --- pieces ----------------------------------------------------------------------------------------


class _Styles:
    def __init__(self, font: LoadedFont, *, chinese: bool) -> None:
        self.font = font
        self.chinese = chinese
        base = ParagraphStyle(
            "base",
            fontName=font.regular,
            fontSize=10.5,
            leading=17 if chinese else 15,
            textColor=INK,
            bulletFontName=font.regular,
            wordWrap="CJK" if chinese else None,
        )
        self.body = ParagraphStyle("body", parent=base, spaceAfter=5, alignment=TA_LEFT)
        self.indented = ParagraphStyle("indented", parent=self.body, firstLineIndent=21 if chinese else 0)
        self.closing = ParagraphStyle("closing", parent=self.body, spaceBefore=4)
        self.title = ParagraphStyle(
            "title", parent=base, fontName=font.bold, fontSize=15, leading=21, alignment=TA_CENTER
        )
        self.heading = ParagraphStyle("heading", parent=base, fontName=font.bold, fontSize=11, leading=15)
        self.company = ParagraphStyle(
            "company", parent=base, fontName=font.bold, fontSize=17, leading=22, textColor=ACCENT
        )
        self.letterhead = ParagraphStyle(
            "letterhead", parent=base, fontSize=8.5, leading=12, textColor=ACCENT
        )
        self.recipient = ParagraphStyle("recipient", parent=base, fontSize=10.5, leading=15)
        self.recipient_bold = ParagraphStyle("recipient_bold", parent=self.recipient, fontName=font.bold)
        self.meta = ParagraphStyle("meta", parent=base, fontSize=9, leading=13, alignment=TA_RIGHT)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11)
        self.cell_right = ParagraphStyle("cell_right", parent=self.cell, alignment=TA_RIGHT)
        self.cell_head = ParagraphStyle(
            "cell_head", parent=self.cell, fontName=font.bold, textColor=colors.white
        )

    def body_style(self, index: int, paragraph: str, count: int) -> ParagraphStyle:
        # Chinese letters indent body paragraphs by two characters; the salutation and the closing
        # formula (此致 / 敬礼！) stand flush.
        if index == 0:
            return self.body
        plain = _plain(paragraph)
        if index >= count - 2 and len(plain) <= (12 if self.chinese else 30):
            return self.closing
        return self.indented


def _letterhead(lines: Sequence[str], styles: _Styles) -> list[Flowable]:
    name, legal_name, contact = lines
    flowables: list[Flowable] = [Paragraph(_escape(name), styles.company)]
    if legal_name and legal_name != name:
        flowables.append(Paragraph(_escape(legal_name), styles.letterhead))
    flowables.append(Paragraph(_escape(contact), styles.letterhead))
    flowables.append(HRFlowable(width="100%", thickness=1.2, color=ACCENT, spaceBefore=3, spaceAfter=5))
    return flowables


def _reference_block(labels: Labels, reference: str, date_line: str, customer: str, styles: _Styles) -> Table:
    colon = labels.colon
    text = (
        f"{labels.reference}{colon}{_escape(reference)}<br/>{labels.date}{colon}{_escape(date_line)}<br/>"
        f"{labels.customer_no}{colon}{_escape(customer)}"
    )
    table = Table([["", Paragraph(text, styles.meta)]], colWidths=[CONTENT_WIDTH - 75 * mm, 75 * mm])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("FONTNAME", (0, 0), (-1, -1), styles.font.regular),  # empty cells too: no Helvetica
            ]
        )
    )
    return table


def _schedule_rows(ctx: MessageContext, labels: Labels) -> list[list[str]]:
    rows = []
    for line in ctx["invoices"]:
        days = line["days_overdue"]
        rows.append(
            [
                line["number"],
                line["currency"],
                line["issue_date"],
                line["due_date"],
                line["outstanding"],
                str(days) if days > 0 else labels.not_due,
                line["late_fee"],
            ]
        )
    return rows


def _schedule_table(rows: list[list[str]], labels: Labels, ctx: MessageContext, styles: _Styles) -> Table:
    header = [Paragraph(_escape(c), styles.cell_head) for c in labels.columns]
    body = [
        [
            Paragraph(_escape(cell), styles.cell_right if column in (4, 5, 6) else styles.cell)
            for column, cell in enumerate(row)
        ]
        for row in rows
    ]
    totals = [
        [
            Paragraph(f"<b>{_escape(labels.total)}</b>", styles.cell),
            Paragraph(_escape(total["currency"]), styles.cell),
            "",
            "",
            Paragraph(f"<b>{_escape(total['outstanding'])}</b>", styles.cell_right),
            "",
            Paragraph(f"<b>{_escape(total['late_fee'])}</b>", styles.cell_right),
        ]
        for total in ctx["totals"]
    ]
    widths = [30 * mm, 18 * mm, 22 * mm, 22 * mm, 29 * mm, 20 * mm, 29 * mm]
    scale = CONTENT_WIDTH / sum(widths)
    table = Table([header, *body, *totals], colWidths=[w * scale for w in widths], repeatRows=1)
    first_total = 1 + len(body)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("ROWBACKGROUNDS", (0, 1), (-1, first_total - 1), [colors.white, colors.HexColor("#F3F5F9")]),
                ("LINEABOVE", (0, first_total), (-1, first_total), 0.9, ACCENT),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), styles.font.regular),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


class _SignatureBlock(Flowable):  # type: ignore[misc]  # ReportLab is untyped
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


@dataclass(frozen=True, slots=True)
class _Footer:
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


def _numbered_canvas(footer: _Footer, pages: list[int]) -> Any:
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


def _fit_size(text: str, font_name: str, size: float, width: float) -> float:
    while size > 6 and stringWidth(text, font_name, size) > width:
        size -= 0.5
    return size


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _plain(markup: str) -> str:
    """The characters a piece of paragraph markup draws: tags removed, entities decoded."""
    return html.unescape(_TAGS.sub("", markup))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
