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

This module owns the layout of the letter itself (the flow of paragraphs, letterhead, reference and
recipient blocks, the schedule table); the house style and words are in ``bot.render.letter_style``,
the signature block and seal in ``bot.render.signature_block``, the visible signature panel in
``bot.render.signature_panel``, and the footer and document date in ``bot.render.letter_pages``. The
names other code imports from here are re-exported.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib import textsplit as _textsplit
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
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
from bot.render.letter_pages import PageFooter, dated, numbered_canvas
from bot.render.letter_style import (
    ACCENT,
    CONTENT_WIDTH,
    INK,
    LABELS,
    MARGIN,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SEAL_RED,
    Labels,
    labels_for,
    letter_date,
)
from bot.render.signature_block import SignatureBlock
from bot.render.signature_panel import draw_signature_panel, panel_lines, signature_box
from bot.render.signing import SignatureBox

__all__ = [
    "ACCENT",
    "CONTENT_WIDTH",
    "INK",
    "LABELS",
    "MARGIN",
    "PAGE_HEIGHT",
    "PAGE_WIDTH",
    "RULE",
    "SEAL_RED",
    "Labels",
    "LaidOutNotice",
    "NoticeContent",
    "dated",
    "draw_signature_panel",
    "labels_for",
    "lay_out_notice",
    "letter_date",
    "panel_lines",
    "signature_box",
]

# ReportLab's CJK line breaker keeps the marks of its "cannot start a line" table off the start of a
# line (hanging them in the margin); the table has 。、）but not the full-width ，：；！？ of Chinese
# text, so a line could begin with "，". Added once, for every paragraph of the process.
for _module in (_textsplit, _paragraph):  # the table is copied into paragraph at its import
    _module.ALL_CANNOT_START += "".join(c for c in "，：；！？》」』" if c not in _module.ALL_CANNOT_START)

_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"^<b>(.+)</b>$", re.DOTALL)


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
    block = SignatureBlock(
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
    footer = PageFooter(font, labels, ctx["reference"], company["legal_name"])
    pages: list[int] = []
    document.build(story, canvasmaker=numbered_canvas(footer, pages))
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


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _plain(markup: str) -> str:
    """The characters a piece of paragraph markup draws: tags removed, entities decoded."""
    return html.unescape(_TAGS.sub("", markup))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)
