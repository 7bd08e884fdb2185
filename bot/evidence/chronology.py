"""The chronology of a case: every contact and fact in order, as a signed PDF for the evidence pack.

One row per event: when (UTC), what, channel, recipient, step, the SHA-256 of what was sent (the raw
e-mail, the SMS request, the letter) and what it records — for a sent message, its delivery proofs
(the SMTP server's final reply, each status callback, a posted letter's tracking number), each with
the pack file that holds it. The table is in the pack's language, in words a reader of the case
understands (:mod:`bot.evidence.chronology_text`), and every cell wraps: nothing is cut. The PDF is
signed like a notice, and dated when it was signed; the pack's verifier checks it like one.
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

from bot.evidence import chronology_text as text
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


def chronology_rows(
    bodies: Sequence[Mapping[str, Any]], language: str = "en", files: Mapping[str, str] | None = None
) -> list[ChronologyRow]:
    """The rows for a case's event bodies (in seq order), worded in ``language`` (zh-CN or en).

    A sent message's row names its delivery proofs (the SMTP server's reply, each status callback,
    a posted letter's tracking number) with the pack file that holds each: ``files`` maps an
    artifact's SHA-256 to that file (default ``artifacts/<sha256>``)."""
    words = text.ZH if language.lower().startswith("zh") else text.EN
    proofs = _delivery_proofs(bodies, words, files or {})
    rows = []
    for body in bodies:
        kind = str(body.get("kind", ""))
        data = body.get("data", {})
        report = proofs.get(data.get("message"), "") if kind == "message_sent" else ""
        rows.append(
            ChronologyRow(
                seq=int(body.get("seq", 0)),
                at=_when(str(body.get("at", ""))),
                kind=text.what(kind, words),
                channel=text.label(text.CHANNELS, data.get("channel"), words),
                recipient=" / ".join(str(data.get("recipient", "") or "").splitlines()),
                step=text.label(text.STEPS, data.get("step"), words),
                content_sha256=_content_hash(data),
                outcome=text.outcome(kind, data, report, words),
            )
        )
    return rows


def _delivery_proofs(
    bodies: Sequence[Mapping[str, Any]], words: int, files: Mapping[str, str]
) -> dict[Any, str]:
    """Each sent message's delivery proofs in words, by message id: the SMTP server's final reply,
    every status callback in order, the tracking number of a posted letter."""

    def file(digest: Any) -> str:
        return files.get(str(digest), f"artifacts/{digest}") if digest else ""

    proofs: dict[Any, list[str]] = {}
    letter_tasks: dict[Any, Any] = {}  # task id -> the letter's message id
    for body in bodies:
        kind, data = body.get("kind"), body.get("data", {})
        when = _when(str(body.get("at", "")))
        if kind == "message_sent" and "message" in data:
            detail, artifacts = data.get("detail"), data.get("artifacts")
            reply = detail.get("reply") if isinstance(detail, Mapping) else None
            artifacts = artifacts if isinstance(artifacts, Mapping) else {}
            if reply and artifacts.get("smtp_reply.json"):
                proofs.setdefault(data["message"], []).append(
                    text.smtp_reply(str(reply), file(artifacts["smtp_reply.json"]), words)
                )
        elif kind == "message_delivered" and "message" in data:
            status = text.label(text.STATUSES, data.get("status"), words)
            proofs.setdefault(data["message"], []).append(
                text.callback(status, when, file(data.get("callback_sha256")), words)
            )
        elif kind == "task_created" and data.get("kind") == "letter" and "message" in data:
            letter_tasks[data.get("task")] = data["message"]
        elif kind == "task_done" and data.get("tracking") and data.get("task") in letter_tasks:
            proofs.setdefault(letter_tasks[data["task"]], []).append(
                text.tracking(str(data["tracking"]), when, file(data.get("tracking_sha256")), words)
            )
    return {message: text.join(parts, words) for message, parts in proofs.items()}


def _when(at: str) -> str:
    return at[:19].replace("T", " ")


def _content_hash(data: Mapping[str, Any]) -> str:
    if isinstance(data.get("raw_sha256"), str):  # a reply: the message as it arrived, not an attachment
        return str(data["raw_sha256"])
    artifacts = data.get("artifacts")
    if isinstance(artifacts, Mapping) and artifacts:
        for name in ARTIFACT_PREFERENCE:
            if isinstance(artifacts.get(name), str):
                return str(artifacts[name])
        first = next(iter(sorted(artifacts)))
        return str(artifacts[first])
    for key in ("notice_sha256", "callback_sha256", "report_sha256"):
        if isinstance(data.get(key), str):
            return str(data[key])
    return ""


@dataclass(frozen=True, slots=True)
class _Labels:
    title: str
    columns: tuple[str, ...]
    intro: str
    issuer: str
    case: str
    exported: str


LABELS = {
    "zh-CN": _Labels(
        title="联络与事实时序表",
        columns=("序号", "时间（UTC）", "事项", "渠道", "收件人", "步骤", "内容 SHA-256", "记录内容"),
        intro="本表按时间顺序列出证据日志中与本案有关的全部记录；每行的序号即证据事件序号，"
        "内容哈希对应证据包 artifacts/ 目录中的文件，每条记录的完整内容见证据包 events/ 目录。",
        issuer="出具方",
        case="案件",
        exported="导出时间（UTC）",
    ),
    "en": _Labels(
        title="Chronology of contacts and facts",
        columns=("Seq", "Time (UTC)", "What", "Channel", "Recipient", "Step", "Content SHA-256", "Record"),
        intro="Every record of the evidence log about this case, in order. The number is the evidence "
        "event's sequence number; the content hash names the file in the pack's artifacts/ folder; "
        "each record in full is in the pack's events/ folder.",
        issuer="Issued by",
        case="Case",
        exported="Exported (UTC)",
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
    colon = "：" if language.lower().startswith("zh") else ": "
    header = [
        f"{labels.issuer}{colon}{origin}",
        f"{labels.case}{colon}{case}",
        f"{labels.exported}{colon}{exported_at}",
    ]
    cells = [
        [str(r.seq), r.at, r.kind, r.channel, r.recipient, r.step, r.content_sha256, r.outcome] for r in rows
    ]
    texts = [labels.title, labels.intro, *header, *labels.columns, *panel]
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
    widths = [12 * mm, 22 * mm, 26 * mm, 16 * mm, 42 * mm, 26 * mm, 48 * mm, 77 * mm]

    def cell(value: str, column: int) -> str | Paragraph:
        if column == 1:
            value = value.replace(" ", "\n", 1)  # the date over the time
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
        Paragraph("<br/>".join(_escape(line) for line in header), base),
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
