"""The chronology of a case: every contact and fact in order, as a signed PDF for the evidence pack.

One row per event: when (UTC), what, channel, recipient, step, the SHA-256 of what was sent (the raw
e-mail, the SMS request, the letter) and the outcome — for a sent message, the last delivery report
that came back for it. The PDF is signed like a notice; the pack's verifier checks it like one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from bot.render.fonts import FontChoice, LoadedFont, font_for
from bot.render.letter import ACCENT, RULE, dated, draw_signature_panel, panel_lines, signature_box
from bot.render.signing import PANEL_SIZE

if TYPE_CHECKING:
    from bot.render.signing import NoticeSigner, SignatureBox

CONTACT_KINDS = ("message_sent", "message_failed", "message_unknown", "message_cancelled", "task_created")
ARTIFACT_PREFERENCE = ("message.eml", "request.json", "message.json")


@dataclass(frozen=True, slots=True)
class ChronologyRow:
    """One line of the chronology."""

    seq: int
    at: str
    kind: str
    channel: str
    recipient: str
    step: str
    content_sha256: str
    outcome: str


def chronology_rows(bodies: Sequence[Mapping[str, Any]]) -> list[ChronologyRow]:
    """The rows for a case's event bodies (in seq order)."""
    reports: dict[Any, str] = {}
    for body in bodies:
        data = body.get("data", {})
        if body.get("kind") == "message_delivered" and "message" in data:
            reports[data["message"]] = f"{data.get('status')} ({body.get('at', '')[:19]}Z)"
    rows = []
    for body in bodies:
        kind = str(body.get("kind", ""))
        data = body.get("data", {})
        outcome = _outcome(kind, data, reports)
        rows.append(
            ChronologyRow(
                seq=int(body.get("seq", 0)),
                at=str(body.get("at", ""))[:19].replace("T", " "),
                kind=kind,
                channel=str(data.get("channel", "") or ""),
                recipient=" / ".join(str(data.get("recipient", "") or "").splitlines()),
                step=str(data.get("step", "") or ""),
                content_sha256=_content_hash(data),
                outcome=outcome,
            )
        )
    return rows


def _content_hash(data: Mapping[str, Any]) -> str:
    artifacts = data.get("artifacts")
    if isinstance(artifacts, Mapping) and artifacts:
        for name in ARTIFACT_PREFERENCE:
            if isinstance(artifacts.get(name), str):
                return str(artifacts[name])
        first = next(iter(sorted(artifacts)))
        return str(artifacts[first])
    for key in ("notice_sha256", "callback_sha256"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return ""


def _outcome(kind: str, data: Mapping[str, Any], reports: Mapping[Any, str]) -> str:
    if kind == "message_sent":
        return reports.get(data.get("message"), f"accepted: {data.get('provider_status', '')}")
    if kind == "message_failed":
        return f"failed: {data.get('error') or data.get('reason') or ''}"[:120]
    if kind == "message_unknown":
        return "unknown: never resent automatically"
    if kind == "message_cancelled":
        return f"cancelled: {data.get('reason', '')}"[:120]
    if kind == "message_delivered":
        return str(data.get("status", ""))
    if kind in ("task_created", "task_done"):
        return str(data.get("title") or data.get("note") or "")[:120]
    if kind == "promise":
        return f"promised {data.get('date', '')} {data.get('amount') or ''}".strip()
    if kind == "dispute":
        return f"{'opened' if data.get('open') else 'closed'}: {data.get('reason', '')}"[:120]
    if kind == "payment":
        return f"{data.get('currency', '')} {data.get('amount', '')} on {data.get('paid_on', '')}"
    return ", ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, str | int) and len(str(v)) < 40)[
        :120
    ]


@dataclass(frozen=True, slots=True)
class _Labels:
    title: str
    columns: tuple[str, ...]
    intro: str


LABELS = {
    "zh-CN": _Labels(
        title="联络与事实时序表",
        columns=("序号", "时间 (UTC)", "事项", "渠道", "收件人", "步骤", "内容 SHA-256", "结果"),
        intro="本表按时间顺序列出证据日志中与本案有关的全部记录;每行的序号即证据事件序号,"
        "内容哈希对应证据包 artifacts/ 目录中的文件。",
    ),
    "en": _Labels(
        title="Chronology of contacts and facts",
        columns=("Seq", "Time (UTC)", "What", "Channel", "Recipient", "Step", "Content SHA-256", "Outcome"),
        intro="Every record of the evidence log about this case, in order. The number is the evidence "
        "event's sequence number; the content hash names the file in the pack's artifacts/ folder.",
    ),
}


class _Panel(Flowable):  # type: ignore[misc]  # ReportLab is untyped
    def __init__(self, font: LoadedFont, lines: list[str], record: list[SignatureBox]) -> None:
        super().__init__()
        self.font, self.lines, self.record = font, lines, record

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, PANEL_SIZE[1] + 4

    def draw(self) -> None:
        draw_signature_panel(self.canv, 0, 2, self.font, self.lines)
        self.record.append(signature_box(self.canv, 0, 2))


def render_chronology(
    rows: Sequence[ChronologyRow],
    *,
    case: str,
    origin: str,
    exported_at: str,
    language: str,
    signer: NoticeSigner,
    fonts: FontChoice,
) -> bytes:
    """The chronology as a signed PDF (A4 landscape)."""
    labels = LABELS["zh-CN" if language.lower().startswith("zh") else "en"]
    panel = panel_lines(language, signer.signer_name)
    header = f"{origin} · {case} · {exported_at}"
    cells = [
        [str(r.seq), r.at, r.kind, r.channel, r.recipient, r.step, r.content_sha256, r.outcome] for r in rows
    ]
    texts = [labels.title, labels.intro, header, *labels.columns, *panel, "…"]
    texts += [cell for row in cells for cell in row]
    font = font_for(language, texts, fonts)
    base = ParagraphStyle("base", fontName=font.regular, fontSize=7.5, leading=9.5, wordWrap="CJK")
    title = ParagraphStyle(
        "title", parent=base, fontName=font.bold, fontSize=14, leading=18, textColor=ACCENT
    )
    # Most cells fit their column on one or two lines: those are drawn as plain text, which costs a
    # small part of a Paragraph. The rest wrap: Latin text at spaces (a word too long for its column at
    # any character), CJK text with ReportLab's CJK line breaker, which measures every character.
    latin = ParagraphStyle("latin", parent=base, wordWrap=None)
    head = ParagraphStyle("head", parent=base, fontName=font.bold, textColor=colors.white)
    widths = [12 * mm, 27 * mm, 27 * mm, 14 * mm, 45 * mm, 27 * mm, 48 * mm, 57 * mm]

    def cell(value: str, column: int) -> str | Paragraph:
        if column == 1 and "T" in value:
            value = value.replace("T", "\n", 1)  # the date over the time
        size = _HASH_SIZE if column == 6 else _TEXT_SIZE
        if column == 6 and len(value) == 64:
            value = f"{value[:32]}\n{value[32:]}"
        room = widths[column] - 2 * _PADDING
        if all(stringWidth(line, font.regular, size) <= room for line in value.split("\n")):
            return value
        return Paragraph(_escape(value).replace("\n", "<br/>"), base if _CJK.search(value) else latin)

    table_rows: list[list[Any]] = [[Paragraph(_escape(c), head) for c in labels.columns]]
    table_rows += [[cell(value, column) for column, value in enumerate(row)] for row in cells]
    table = Table(table_rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), font.regular),
                ("FONTSIZE", (0, 1), (-1, -1), _TEXT_SIZE),
                ("LEADING", (0, 1), (-1, -1), _TEXT_SIZE + 2),
                ("FONTSIZE", (6, 1), (6, -1), _HASH_SIZE),
                ("LEADING", (6, 1), (6, -1), _HASH_SIZE + 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), _PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), _PADDING),
            ]
        )
    )
    recorded: list[SignatureBox] = []
    story: list[Flowable] = [
        Paragraph(_escape(labels.title), title),
        Paragraph(_escape(header), base),
        Spacer(1, 2 * mm),
        Paragraph(_escape(labels.intro), base),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 6 * mm),
        _Panel(font, panel, recorded),
    ]
    buffer = io.BytesIO()
    size = landscape(A4)
    document = BaseDocTemplate(
        buffer,
        pagesize=size,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=labels.title,
        author=origin,
        subject=case,
        creator="dunbot",
        invariant=True,
        initialFontName=font.regular,
    )
    frame = Frame(12 * mm, 12 * mm, size[0] - 24 * mm, size[1] - 24 * mm, id="body")
    signed_at = signer.signing_time()
    document.addPageTemplates([PageTemplate(id="chronology", frames=[frame], onPage=dated(signed_at))])
    document.build(story)
    return signer.sign(buffer.getvalue(), recorded[-1], signed_at)


_TEXT_SIZE = 7.5
_HASH_SIZE = 6.0
_PADDING = 4.0
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
