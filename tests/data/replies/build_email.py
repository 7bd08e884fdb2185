"""Writes the e-mail half of the reply corpus: ``email/*.eml`` and their rows of ``labels.csv``.

Every reply's words are written one by one in ``email_zh.py``, ``email_en.py`` and ``email_machine.py``
(what a customer's accounts-payable clerk, an autoresponder or a mail server sends). This script only
does what a mail client would: headers, the quoted letter being answered, the charset and transfer
encoding, the HTML alternative and the attachments. Run it after editing a reply:

    .venv/bin/python tests/data/replies/build_email.py

Rows of ``labels.csv`` whose file is not under ``email/`` (the SMS half) are kept as they are.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import quopri
import struct
import sys
import zlib
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

LABEL_HEADER = ["file", "kind", "promise_date", "promise_amount", "acknowledges_debt", "notes"]
OUR_NAME = {"zh": "华宇工业用品有限公司 应收账款部", "en": "Huayu Industrial Supply Accounts Receivable"}
OUR_DOMAIN = "huayu-supply.example"


@dataclass(frozen=True)
class Customer:
    company: str
    contact: str
    address: str
    invoice: str
    amount: str  # as the letter shows it


@dataclass
class Mail:
    """One reply as its writer wrote it, and how their mail client sent it."""

    name: str
    kind: str
    lang: str
    body: str
    customer: int = 0
    subject: str | None = None  # None: the client's reply prefix + the subject of our letter
    letter: str = "overdue"  # which of our letters it answers: reminder | overdue | final | statement
    quote: str | None = None  # gmail | gmail-wrapped | outlook | outlook-old | qq | foxmail | netease | ">"
    shape: str = "plain"  # plain | html | alt
    charset: str = "utf-8"
    cte: str = "8bit"  # 8bit | base64 | quoted-printable
    attachments: tuple[tuple[str, str], ...] = ()  # (filename, content type)
    headers: tuple[tuple[str, str], ...] = ()
    sender: str | None = None  # overrides the customer's contact address
    promise_date: str = ""
    promise_amount: str = ""
    ack: bool = False
    notes: str = ""
    time: str = "10:00:00"
    new_thread: bool = False  # written afresh (a forward, a remittance run), not as a reply: no In-Reply-To
    raw: bytes | None = None  # a machine-written message given byte for byte (DSNs)
    extra: dict[str, str] = field(default_factory=dict)


CUSTOMERS_ZH = [
    Customer("上海恒达机电设备有限公司", "王丽", "wangli@hengda-jd.example", "HY-2026-1032", "¥12,500.00"),
    Customer("苏州新宇包装材料有限公司", "陈静", "chenjing@xinyu-pack.example", "HY-2026-1047", "¥8,000.00"),
    Customer("杭州瑞丰五金制品厂", "刘洋", "liuyang@ruifeng-hw.example", "HY-2026-0988", "¥36,720.00"),
    Customer("南京金桥物流有限公司", "赵敏", "zhaomin@jinqiao-log.example", "HY-2026-1101", "¥4,860.50"),
    Customer("宁波海天塑胶有限公司", "孙晓燕", "sunxy@haitian-pl.example", "HY-2026-1015", "¥21,300.00"),
    Customer("无锡华腾电子科技有限公司", "周杰", "zhoujie@huateng-e.example", "HY-2026-0954", "¥58,000.00"),
    Customer("广州粤安建材有限公司", "黄海涛", "huanght@yuean-jc.example", "HY-2026-1120", "¥15,600.00"),
    Customer("成都蜀光照明电器有限公司", "李娜", "lina@shuguang-led.example", "HY-2026-1078", "¥9,450.00"),
    Customer("天津津南化工原料有限公司", "吴婷", "wuting@jinnan-chem.example", "HY-2026-0931", "¥27,880.00"),
    Customer(
        "深圳鹏程精密模具有限公司", "郑伟", "zhengwei@pengcheng-mold.example", "HY-2026-1089", "¥43,200.00"
    ),
]
CUSTOMERS_EN = [
    Customer(
        "Harbourside Components Ltd",
        "Emma Clarke",
        "emma.clarke@harbourside-comp.example",
        "HY-2026-2031",
        "USD 3,200.00",
    ),
    Customer(
        "Northgate Fabrication Pte Ltd",
        "Raj Menon",
        "ap@northgate-fab.example",
        "HY-2026-2044",
        "USD 12,480.00",
    ),
    Customer(
        "Bellweather Foods Inc.",
        "Laura Jenkins",
        "ljenkins@bellweather-foods.example",
        "HY-2026-2012",
        "USD 7,950.00",
    ),
    Customer(
        "Keystone Marine Supplies",
        "Tom Whitaker",
        "accounts@keystone-marine.example",
        "HY-2026-2057",
        "USD 1,860.00",
    ),
    Customer(
        "Pacific Rim Trading Co.",
        "Grace Lim",
        "grace.lim@pacrim-trading.example",
        "HY-2026-1996",
        "USD 22,400.00",
    ),
    Customer("Alder & Finch Hardware", "Mark Alder", "mark@alderfinch.example", "HY-2026-2063", "USD 945.00"),
    Customer(
        "Summit Packaging GmbH",
        "Julia Becker",
        "j.becker@summit-pack.example",
        "HY-2026-2009",
        "EUR 5,300.00",
    ),
    Customer(
        "Redwood Electrical Contractors",
        "Sam Patel",
        "payables@redwood-elec.example",
        "HY-2026-2071",
        "USD 14,275.00",
    ),
    Customer(
        "Kowloon Lighting Ltd",
        "Vivian Chan",
        "vivian.chan@kowloon-lighting.example",
        "HY-2026-2025",
        "HKD 38,600.00",
    ),
    Customer(
        "Meridian Auto Parts LLC",
        "Daniel Ortiz",
        "d.ortiz@meridian-auto.example",
        "HY-2026-2080",
        "USD 6,730.00",
    ),
]

LETTER_SUBJECT = {
    "zh": {
        "reminder": "温馨提示：贵司应付华宇工业的款项即将到期（参考编号 {ref}）",
        "overdue": "付款安排沟通：发票 {inv} 已逾期（参考编号 {ref}）",
        "final": "最后催告函（编号 {ref}）：华宇工业用品有限公司致{company}",
        "statement": "对账函：截至2026年11月30日的往来余额（参考编号 {ref}）",
    },
    "en": {
        "reminder": "Friendly reminder: your payment to Huayu Industrial Supply is coming due (ref. {ref})",
        "overdue": "Invoice {inv} is past due (ref. {ref})",
        "final": "Final demand for payment (ref. {ref}): Huayu Industrial Supply Co., Ltd. to {company}",
        "statement": "Statement of account as of 30 November 2026 (ref. {ref})",
    },
}
LETTER_BODY = {
    "zh": {
        "reminder": "尊敬的{company}：\n\n您好！温馨提示，以下发票将于2026年12月10日到期：\n发票 {inv}  金额 {amount}\n\n请贵司按时安排付款。如已付款，请忽略本邮件。\n\n华宇工业用品有限公司 应收账款部",
        "overdue": "尊敬的{company}：\n\n您好！我们注意到以下发票已过到期日，目前我司尚未收到款项：\n发票 {inv}  金额 {amount}  到期日 2026-11-20\n\n如贵司暂时存在困难，我们愿意与贵司协商分期付款方案。如贵司已付款，请忽略本邮件。\n\n华宇工业用品有限公司 应收账款部",
        "final": "尊敬的{company}：\n\n贵司所欠发票 {inv} 款项 {amount} 已逾期四十余日，经我司多次催告仍未支付。请于收到本函后七日内付清，否则我司将依法采取进一步措施。\n\n华宇工业用品有限公司",
        "statement": "尊敬的{company}：\n\n截至2026年11月30日，贵司尚欠我司款项合计 {amount}（发票 {inv}）。请核对后在回执上盖章确认并寄回。\n\n华宇工业用品有限公司 应收账款部",
    },
    "en": {
        "reminder": "Dear {company},\n\nThis is a friendly reminder that the following invoice falls due on 10 December 2026:\nInvoice {inv}  Amount {amount}\n\nIf you have already paid, please disregard this e-mail.\n\nHuayu Industrial Supply Co., Ltd. - Accounts Receivable",
        "overdue": "Dear {company},\n\nWe notice that the following invoice is past its due date and we have not yet received payment:\nInvoice {inv}  Amount {amount}  Due 20 November 2026\n\nIf paying in full is difficult right now, we are happy to discuss an instalment plan.\nIf you have already paid, please disregard this e-mail.\n\nHuayu Industrial Supply Co., Ltd. - Accounts Receivable",
        "final": "Dear {company},\n\nInvoice {inv} for {amount} is now more than 40 days overdue despite our reminders. Please pay it in full within seven days of this letter, failing which we will take further steps without further notice.\n\nHuayu Industrial Supply Co., Ltd.",
        "statement": "Dear {company},\n\nAs of 30 November 2026 the balance owed to us is {amount} (invoice {inv}). Please check it, sign the confirmation slip and return it to us.\n\nHuayu Industrial Supply Co., Ltd. - Accounts Receivable",
    },
}
REPLY_PREFIX = {"zh": "回复：", "en": "RE: "}


def build() -> None:
    import email_en
    import email_machine
    import email_zh

    mails: list[Mail] = [*email_zh.MAILS, *email_en.MAILS, *email_machine.MAILS]
    names = [mail.name for mail in mails]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise SystemExit(f"duplicate names: {sorted(duplicates)}")
    folder = HERE / "email"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.eml"):
        old.unlink()
    rows: list[list[str]] = []
    for mail in mails:
        (folder / f"{mail.name}.eml").write_bytes(mail.raw if mail.raw is not None else render(mail))
        rows.append(
            [
                f"email/{mail.name}.eml",
                mail.kind,
                mail.promise_date,
                mail.promise_amount,
                "yes" if mail.ack else "no",
                mail.notes,
            ]
        )
    write_labels(rows)
    print(f"{len(mails)} e-mails written to {folder}")


def _generated(file: str) -> bool:
    return file.startswith("email/") and not file.startswith("email/c-")


def write_labels(email_rows: list[list[str]]) -> None:
    path = HERE / "labels.csv"
    kept: list[list[str]] = []
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            # the SMS half and the hand-written c-*.eml mails are not this script's: kept as they are
            kept = [row for row in reader if row and not _generated(row[0])]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(LABEL_HEADER)
        writer.writerows(sorted(email_rows) + kept)


def customer_of(mail: Mail) -> Customer:
    table = CUSTOMERS_ZH if mail.lang == "zh" else CUSTOMERS_EN
    return table[mail.customer % len(table)]


def tag_of(mail: Mail) -> str:
    return hashlib.sha256(mail.name.encode()).hexdigest()[:12]


def render(mail: Mail) -> bytes:
    customer = customer_of(mail)
    tag = tag_of(mail)
    ref = f"DN-{tag[:6].upper()}"
    fields = {"company": customer.company, "inv": customer.invoice, "amount": customer.amount, "ref": ref}
    our_subject = LETTER_SUBJECT[mail.lang][mail.letter].format(**fields)
    subject = mail.subject if mail.subject is not None else REPLY_PREFIX[mail.lang] + our_subject
    original_id = f"<{tag}.dunning@{OUR_DOMAIN}>"
    our_address = f"reply+{tag}@{OUR_DOMAIN}"
    text = mail.body.strip("\n") + "\n"
    quote_text, quote_html = quoted(mail, our_subject, our_address, customer, fields)
    plain = text + quote_text
    headers = [
        ("From", address_header(customer.contact, mail.sender or customer.address, mail.charset)),
        ("To", address_header(OUR_NAME[mail.lang], our_address, mail.charset)),
        ("Subject", header_text(subject, mail.charset)),
        ("Date", f"Mon, 07 Dec 2026 {mail.time} +0800"),
        (
            "Message-ID",
            f"<{tag}.{mail.name.replace('_', '-')}@{(mail.sender or customer.address).split('@')[1]}>",
        ),
    ]
    if not mail.new_thread:
        headers += [("In-Reply-To", original_id), ("References", original_id)]
    headers += [*mail.headers, ("MIME-Version", "1.0")]
    if mail.shape == "plain":
        body_part = leaf("text/plain", plain, mail)
    elif mail.shape == "html":
        body_part = leaf("text/html", to_html(text, quote_html), mail)
    else:
        boundary = f"----=_alt_{tag}"
        body_part = multipart(
            "alternative",
            boundary,
            [leaf("text/plain", plain, mail), leaf("text/html", to_html(text, quote_html), mail)],
        )
    if mail.attachments:
        parts = [body_part] + [attachment(name, ctype, mail) for name, ctype in mail.attachments]
        body_part = multipart("mixed", f"----=_mix_{tag}", parts)
    head = b"".join(f"{name}: {value}\r\n".encode("ascii") for name, value in headers)
    return head + body_part


def address_header(display: str, address: str, charset: str) -> str:
    if display.isascii():
        return f'"{display}" <{address}>' if any(c in display for c in ",.&") else f"{display} <{address}>"
    return f"{header_text(display, charset)} <{address}>"


def header_text(value: str, charset: str) -> str:
    if value.isascii():
        return value
    codec = "gb18030" if charset.lower() in ("gb2312", "gbk") else charset
    label = charset.upper() if charset.lower() in ("gb2312", "gbk", "big5") else "UTF-8"
    try:
        value.encode(codec)
    except UnicodeEncodeError:  # a simplified name in a Big5 mail: its client falls back to UTF-8
        label = "UTF-8"
    if label == "UTF-8":
        return str(Header(value, "utf-8").encode())
    return "\r\n ".join(
        f"=?{label}?B?{base64.b64encode(chunk).decode()}?=" for chunk in safe_chunks(value, codec)
    )


def safe_chunks(value: str, codec: str) -> list[bytes]:
    """``value`` in pieces of at most 30 bytes, no character cut between two words (RFC 2047 §5)."""
    pieces: list[bytes] = []
    current = ""
    for char in value:
        if len((current + char).encode(codec)) > 30:
            pieces.append(current.encode(codec))
            current = ""
        current += char
    if current:
        pieces.append(current.encode(codec))
    return pieces


def leaf(content_type: str, text: str, mail: Mail) -> bytes:
    codec = "gb18030" if mail.charset.lower() in ("gb2312", "gbk") else mail.charset
    if codec == "gb18030":  # a GB keyboard types the full-width yuan sign, which GBK has
        text = text.replace("¥", "￥")
    data = text.replace("\n", "\r\n").encode(codec)
    head = f"Content-Type: {content_type}; charset={mail.charset}\r\n"
    if mail.cte == "base64":
        encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif mail.cte == "quoted-printable":
        encoded = quopri.encodestring(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    else:
        encoded = data
    return (head + f"Content-Transfer-Encoding: {mail.cte}\r\n\r\n").encode("ascii") + encoded + b"\r\n"


def multipart(subtype: str, boundary: str, parts: list[bytes]) -> bytes:
    out = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode("ascii")
    for part in parts:
        out += f"--{boundary}\r\n".encode("ascii") + part
    return out + f"--{boundary}--\r\n".encode("ascii")


def attachment(filename: str, content_type: str, mail: Mail) -> bytes:
    data = attachment_bytes(filename, content_type, mail)
    if filename.isascii():
        name_param = f'"{filename}"'
    else:  # what Chinese clients really send: an RFC 2047 word inside the quotes
        name_param = f'"{header_text(filename, mail.charset if mail.charset != "utf-8" else "utf-8")}"'
    head = (
        f"Content-Type: {content_type}; name={name_param}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; filename={name_param}\r\n\r\n"
    )
    return head.encode("ascii") + base64.encodebytes(data).replace(b"\n", b"\r\n")


def attachment_bytes(filename: str, content_type: str, mail: Mail) -> bytes:
    customer = customer_of(mail)
    if content_type == "application/pdf":
        return tiny_pdf(f"Remittance advice {customer.invoice} {customer.amount}".encode("ascii", "replace"))
    if content_type.startswith("image/"):
        return tiny_png(int(hashlib.sha256(mail.name.encode()).hexdigest()[:6], 16))
    return f"{customer.invoice},{customer.amount}\r\n".encode()


def tiny_pdf(line: bytes) -> bytes:
    """A one-page PDF that says ``line``: what a bank's remittance advice boils down to."""
    stream = b"BT /F1 12 Tf 72 720 Td (" + line.replace(b"(", b"[").replace(b")", b"]") + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def tiny_png(colour: int) -> bytes:
    """A 1x1 PNG: the photo of a bank slip stands in as an image attachment, not its pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes([0, (colour >> 16) & 255, (colour >> 8) & 255, colour & 255])
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


def to_html(text: str, quote_html: str) -> str:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    body = "".join(
        f"<p>{'<br>'.join(html.escape(line) for line in p.split(chr(10)))}</p>\n" for p in paragraphs
    )
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html"></head>\n'
        f'<body><div style="font-family:Calibri,Arial,sans-serif;font-size:11pt">\n{body}</div>\n{quote_html}</body></html>\n'
    )


def quoted(
    mail: Mail, our_subject: str, our_address: str, customer: Customer, fields: dict[str, str]
) -> tuple[str, str]:
    """The letter being answered, quoted the way ``mail.quote``'s client does it (text and HTML)."""
    if mail.quote is None:
        return "", ""
    original = LETTER_BODY[mail.lang][mail.letter].format(**fields)
    ours = OUR_NAME[mail.lang]
    html_original = "<br>".join(html.escape(line) for line in original.split("\n"))
    if mail.quote in ("gmail", "gmail-wrapped", ">"):
        if mail.lang == "zh":
            attribution = f"在 2026年12月4日周五 10:00，{ours} <{our_address}> 写道："
        elif mail.quote == "gmail-wrapped":
            attribution = f"On Fri, 4 Dec 2026 at 10:00, {ours}\n<{our_address}> wrote:"
        else:
            attribution = f"On Fri, 4 Dec 2026 at 10:00, {ours} <{our_address}> wrote:"
        lines = "\n".join(f"> {line}" if line else ">" for line in original.split("\n"))
        if mail.quote == ">":
            return f"\n{lines}\n", f"<blockquote>{html_original}</blockquote>"
        text = f"\n{attribution}\n\n{lines}\n"
        markup = (
            f'<div class="gmail_quote"><div class="gmail_attr">{html.escape(attribution)}</div>'
            f'<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc solid;padding-left:1ex">'
            f"{html_original}</blockquote></div>"
        )
        return text, markup
    to_line = f"{customer.contact} <{customer.address}>"
    if mail.quote in ("outlook", "outlook-old"):
        if mail.lang == "zh":
            names = ("发件人", "发送时间", "收件人", "主题")
            sent = "2026年12月4日 10:00"
        else:
            names = ("From", "Sent", "To", "Subject")
            sent = "Friday, December 4, 2026 10:00 AM"
        rule = "-----原始邮件-----" if mail.lang == "zh" else "-----Original Message-----"
        if mail.quote == "outlook":
            rule = "________________________________"
        block = f"{names[0]}: {ours} <{our_address}>\n{names[1]}: {sent}\n{names[2]}: {to_line}\n{names[3]}: {our_subject}"
        text = f"\n{rule}\n{block}\n\n{original}\n"
        markup = (
            '<hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">'
            + "<br>".join(
                f"<b>{html.escape(line.split(': ', 1)[0])}:</b> {html.escape(line.split(': ', 1)[1])}"
                for line in block.split("\n")
            )
            + f"</div><div>{html_original}</div>"
        )
        return text, markup
    if mail.quote == "qq":
        block = (
            "------------------ 原始邮件 ------------------\n"
            f'发件人: "{ours}"<{our_address}>;\n发送时间: 2026年12月4日(星期五) 上午10:00\n'
            f'收件人: "{customer.contact}"<{customer.address}>;\n主题: {our_subject}'
        )
    elif mail.quote == "foxmail":
        block = f"发件人：{ours}\n发送时间：2026-12-04 10:00\n收件人：{customer.contact}\n主题：{our_subject}"
    elif mail.quote == "netease":
        block = f"---- 回复的原邮件 ----\n| 发件人 | {ours}<{our_address}> |\n| 日期 | 2026年12月04日 10:00 |\n| 收件人 | {customer.address} |\n| 主题 | {our_subject} |"
    else:
        raise ValueError(f"{mail.name}: unknown quote style {mail.quote!r}")
    text = f"\n\n{block}\n\n{original}\n"
    markup = f"<div><br></div><div>{'<br>'.join(html.escape(line) for line in block.split(chr(10)))}</div><div>{html_original}</div>"
    return text, markup


if __name__ == "__main__":
    build()
