"""What machines answer: out-of-office replies (each written as their owner set it up) and the
delivery status notifications of Postfix and Exchange, in the shapes those servers really send."""

import base64
from email.header import Header

from build_email import CUSTOMERS_EN, CUSTOMERS_ZH, LETTER_SUBJECT, OUR_DOMAIN, Customer
from build_email import Mail as M

EXCHANGE_OOO = (
    ("Auto-Submitted", "auto-replied"),
    ("X-Auto-Response-Suppress", "All"),
    ("X-MS-Exchange-Inbox-Rules-Loop", "x"),
)

MAILS: list[M] = [
    # ---- out-of-office, zh ----
    M(
        "zh_ooo_01",
        "auto-reply",
        "zh",
        "您好，我于12月7日至12月11日休年假，期间不能及时回复邮件。紧急事务请联系财务部 钱亮（qianliang@hengda-jd.example）。\n\n王丽",
        customer=0,
        subject="自动回复: 付款安排沟通：发票 HY-2026-1032 已逾期",
        headers=(
            ("Auto-Submitted", "auto-replied"),
            ("X-Auto-Response-Suppress", "All"),
            ("X-MS-Exchange-Inbox-Rules-Loop", "wangli@hengda-jd.example"),
        ),
        charset="gb2312",
        cte="base64",
        notes="Exchange, zh subject prefix",
    ),
    M(
        "zh_ooo_02",
        "auto-reply",
        "zh",
        "这是来自QQ邮箱的假期自动回复邮件。\n\n您好，我最近正在休假中，无法亲自回复您的邮件。我将在假期结束后，尽快给您回复。",
        customer=1,
        subject="自动回复: 温馨提示：贵司应付华宇工业的款项即将到期",
        notes="QQ Mail vacation reply: no Auto-Submitted, subject only",
    ),
    M(
        "zh_ooo_03",
        "auto-reply",
        "zh",
        "您好！您的邮件已收到，我出差在外，12月14日返回，届时再处理。如有急事请拨打 13812345678。",
        customer=2,
        subject="Re: 付款安排沟通",
        headers=(("X-Autoreply", "yes"), ("Precedence", "bulk")),
        charset="gbk",
        notes="vacation(1)-style headers",
    ),
    M(
        "zh_ooo_04",
        "auto-reply",
        "zh",
        "本人12月5日至12月20日产假，邮件将不定期查看。账款事宜请联系 赵敏 的同事 周晓（zhouxiao@jinqiao-log.example）。",
        customer=3,
        subject="休假自动回复",
        headers=(("Auto-Submitted", "auto-replied"),),
        shape="html",
        notes="subject 休假自动回复; HTML only",
    ),
    M(
        "zh_ooo_05",
        "auto-reply",
        "zh",
        "您好，我已收到您的邮件，目前外出开会，将于12月9日回复您。",
        customer=4,
        notes="no header, no subject cue: only the body says it is automatic",
    ),
    M(
        "zh_ooo_06",
        "auto-reply",
        "zh",
        "這是一封自動回覆郵件。本人於12月7日至12月9日出差，返回後將盡快回覆。",
        customer=5,
        subject="自動回覆：付款安排沟通",
        headers=(("Auto-Submitted", "auto-generated"),),
        charset="big5",
        cte="base64",
        notes="traditional Chinese, Big5",
    ),
    M(
        "zh_ooo_07",
        "auto-reply",
        "zh",
        "这是一封自动回复邮件。您好，您的来信已收到，我会尽快处理。\n\n—— 广州粤安建材有限公司 财务部",
        customer=6,
        subject="这是一封自动回复邮件",
        headers=(("X-Autorespond", "yes"),),
        charset="gb2312",
        notes="NetEase-style auto reply",
    ),
    M(
        "zh_ooo_08",
        "auto-reply",
        "zh",
        "您好，我目前不在办公室，12月10日返回。付款事宜请联系财务经理。\n\nI am out of the office until 10 December.",
        customer=7,
        subject="自动回复: 最后催告函",
        headers=EXCHANGE_OOO,
        shape="alt",
        cte="quoted-printable",
        notes="bilingual out-of-office",
    ),
    # ---- out-of-office, en ----
    M(
        "en_ooo_01",
        "auto-reply",
        "en",
        "Thank you for your email. I am out of the office until Monday 14 December with limited access to email. For urgent payment queries please contact accounts@harbourside-comp.example.\n\nEmma Clarke",
        customer=0,
        subject="Automatic reply: Invoice HY-2026-2031 is past due",
        headers=(
            ("Auto-Submitted", "auto-replied"),
            ("X-Auto-Response-Suppress", "All"),
            ("X-MS-Exchange-Inbox-Rules-Loop", "emma.clarke@harbourside-comp.example"),
        ),
        shape="alt",
        notes="Exchange OOO; a return date is not a promise",
    ),
    M(
        "en_ooo_02",
        "auto-reply",
        "en",
        "I'm away from my desk until December 9th. Your message has been received and I'll get back to you on my return.",
        customer=1,
        subject="Out of Office",
        headers=(("Auto-Submitted", "auto-replied"),),
        notes="Gmail vacation responder",
    ),
    M(
        "en_ooo_03",
        "auto-reply",
        "en",
        "Hello,\n\nI am currently on annual leave and will return on 4 January 2027. During this period please direct any invoice or payment questions to Sarah Moss (s.moss@bellweather-foods.example).\n\nKind regards,\nLaura",
        customer=2,
        subject="Out of Office: Friendly reminder",
        headers=(("X-Autoreply", "yes"), ("Precedence", "auto_reply")),
        notes="no Auto-Submitted",
    ),
    M(
        "en_ooo_04",
        "auto-reply",
        "en",
        "Thanks for your message. Our accounts team is closed for the holidays from 21 December and reopens on 4 January.",
        customer=3,
        subject="Auto: Invoice HY-2026-2057 is past due",
        headers=(("Auto-Submitted", "auto-replied"), ("Precedence", "bulk")),
    ),
    M(
        "en_ooo_05",
        "auto-reply",
        "en",
        "This mailbox is not monitored. Your email has been logged with ticket number AP-884213 and will be answered within 5 business days.",
        customer=4,
        subject="[AP-884213] Received: Invoice HY-2026-1996 is past due",
        headers=(("Auto-Submitted", "auto-generated"), ("X-Autorespond", "ticket")),
        notes="helpdesk acknowledgement",
    ),
    M(
        "en_ooo_06",
        "auto-reply",
        "en",
        "I am out of the office with no access to email and will be back on Wednesday.",
        customer=5,
        notes="no header, no subject cue",
    ),
    M(
        "en_ooo_07",
        "auto-reply",
        "en",
        "Thank you for contacting Summit Packaging. I am on parental leave until March 2027. Please contact ap@summit-pack.example for any accounts payable matters.",
        customer=6,
        subject="Automatic reply: Final demand for payment",
        headers=EXCHANGE_OOO,
        shape="html",
        notes="HTML-only Exchange OOO",
    ),
    M(
        "en_ooo_08",
        "auto-reply",
        "en",
        "Auto-reply: I'm travelling this week with intermittent access to email. Responses will be delayed.",
        customer=7,
        subject="RE: Invoice HY-2026-2071 is past due",
        headers=(("X-Auto-Response-Suppress", "DR, RN, OOF, AutoReply"),),
        notes="body says auto-reply; only X-Auto-Response-Suppress as header",
    ),
]


def _original(customer: Customer, lang: str, tag: str) -> str:
    """The headers of our dunning e-mail as the bouncing server returns them."""
    subject = LETTER_SUBJECT[lang]["overdue"].format(
        inv=customer.invoice, ref=f"DN-{tag[:6].upper()}", company=""
    )
    return (
        f"Received: from mail.{OUR_DOMAIN} (mail.{OUR_DOMAIN} [198.51.100.7])\r\n"
        f"\tby {{mta}} with ESMTPS; Mon, 7 Dec 2026 10:15:01 +0800\r\n"
        f"From: Huayu Industrial Supply <ar@{OUR_DOMAIN}>\r\n"
        f"Reply-To: reply+{tag}@{OUR_DOMAIN}\r\n"
        f"To: {customer.address}\r\n"
        f"Subject: {Header(subject, 'utf-8').encode() if not subject.isascii() else subject}\r\n"
        "Date: Mon, 07 Dec 2026 10:15:00 +0800\r\n"
        f"Message-ID: <{tag}.dunning@{OUR_DOMAIN}>\r\n"
        "MIME-Version: 1.0\r\n"
    )


def postfix_dsn(
    name: str,
    customer: Customer,
    lang: str,
    tag: str,
    mta: str,
    action: str,
    status: str,
    said: str,
    diagnostic: str,
    returned: str,
    extra_recipient: tuple[str, str, str] | None = None,
) -> bytes:
    """A Postfix bounce(8) notice. ``returned``: "message" (message/rfc822) or "headers"
    (text/rfc822-headers, what Postfix sends when the message was too big to return)."""
    queue_id = tag[:10].upper()
    boundary = f"{queue_id}.1796523302/{mta}"
    delayed = action == "delayed"
    subject = "Delayed Mail (still being retried)" if delayed else "Undelivered Mail Returned to Sender"
    lead = (
        "####################################################################\n"
        "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
        "####################################################################\n\n"
        "Your message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n"
        if delayed
        else "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n"
    )
    recipients = [(customer.address, status, diagnostic)]
    if extra_recipient is not None:
        recipients.append(extra_recipient)
    human = "\n\n".join(
        [
            f"<{customer.address}>: {said}",
            *(f"<{address}>: host {mta} said: {diag}" for address, _, diag in recipients[1:]),
        ]
    )
    blocks = "".join(
        f"Final-Recipient: rfc822; {address}\nOriginal-Recipient: rfc822;{address}\nAction: {action}\nStatus: {code}\n"
        f"Remote-MTA: dns; {mta}\nDiagnostic-Code: smtp; {diag}\n"
        + ("Will-Retry-Until: Sat, 12 Dec 2026 10:15:01 +0800 (CST)\n" if delayed else "")
        + "\n"
        for address, code, diag in recipients
    )
    original = _original(customer, lang, tag).replace("{mta}", mta)
    if returned == "message":
        returned_part = (
            "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n"
            + original.replace("\r\n", "\n")
            + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + f"Dear customer, invoice {customer.invoice} for {customer.amount} is past due.\n"
        )
    else:
        returned_part = (
            "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n"
            + original.replace("\r\n", "\n")
        )
    text = (
        "Return-Path: <>\n"
        f"Delivered-To: ar@{OUR_DOMAIN}\n"
        f"Received: by {mta} (Postfix)\n\tid {queue_id}; Mon,  7 Dec 2026 10:15:02 +0800 (CST)\n"
        "Date: Mon,  7 Dec 2026 10:15:02 +0800 (CST)\n"
        f"From: MAILER-DAEMON@{mta} (Mail Delivery System)\n"
        f"Subject: {subject}\n"
        f"To: ar@{OUR_DOMAIN}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"\n'
        "Content-Transfer-Encoding: 8bit\n"
        f"Message-Id: <20261207021502.{queue_id}@{mta}>\n\n"
        "This is a MIME-encapsulated message.\n\n"
        f"--{boundary}\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
        f"This is the mail system at host {mta}.\n\n{lead}\n"
        "For further assistance, please send mail to postmaster.\n\n"
        "If you do so, please include this problem report. You can\n"
        "delete your own text from the attached returned message.\n\n"
        f"                   The mail system\n\n{human}\n\n"
        f"--{boundary}\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; {mta}\nX-Postfix-Queue-ID: {queue_id}\nX-Postfix-Sender: rfc822; ar@{OUR_DOMAIN}\n"
        "Arrival-Date: Mon,  7 Dec 2026 10:15:01 +0800 (CST)\n\n"
        f"{blocks}"
        f"--{boundary}\n{returned_part}\n--{boundary}--\n"
    )
    return text.replace("\n", "\r\n").encode("utf-8")


def exchange_ndr(
    name: str,
    customer: Customer,
    lang: str,
    tag: str,
    server: str,
    action: str,
    status: str,
    diagnostic: str,
    human_en: str,
    human_zh: str | None = None,
    returned: str = "headers",
) -> bytes:
    """An Exchange (Online or on-premises) non-delivery report: the human text as a
    multipart/alternative, then message/delivery-status, then the returned headers (Exchange Online)
    or message (on-premises). Exchange also names the original in In-Reply-To/References."""
    boundary = f"_{tag}_"
    alt = f"_{tag}_alt_"
    original_id = f"<{tag}.dunning@{OUR_DOMAIN}>"
    our_subject = LETTER_SUBJECT[lang]["overdue"].format(
        inv=customer.invoice, ref=f"DN-{tag[:6].upper()}", company=""
    )
    if action == "delayed":
        prefix = "延迟传递: " if human_zh else "Delivery delayed:"
    else:
        prefix = "无法送达: " if human_zh else "Undeliverable: "
    subject = (
        str(Header(prefix + our_subject, "utf-8").encode())
        if human_zh or not our_subject.isascii()
        else prefix + our_subject
    )
    human = human_zh or human_en
    html_human = "<br>".join(human.split("\n"))
    text_b64 = base64.encodebytes(human.encode("utf-8")).decode("ascii")
    html_b64 = base64.encodebytes(
        f"<html><body><p><b>{html_human}</b></p><p>Diagnostic information for administrators:</p><p>Generating server: {server}</p><p>{customer.address}<br>Remote server returned '{diagnostic}'</p></body></html>".encode()
    ).decode("ascii")
    original = _original(customer, lang, tag).replace("{mta}", server)
    if returned == "message":
        returned_part = (
            "Content-Type: message/rfc822\n\n"
            + original.replace("\r\n", "\n")
            + "Content-Type: text/plain; charset=utf-8\n\n"
            + f"Invoice {customer.invoice} {customer.amount}\n"
        )
    else:
        returned_part = "Content-Type: text/rfc822-headers\n\n" + original.replace("\r\n", "\n")
    text = (
        f"From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{customer.address.split('@')[1]}>\n"
        f"To: <ar@{OUR_DOMAIN}>\n"
        "Date: Mon, 7 Dec 2026 02:12:44 +0000\n"
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"\n'
        f"Content-Language: {'zh-CN' if human_zh else 'en-US'}\n"
        f"Message-ID: <{tag[::-1]}-0000@{server}>\n"
        f"In-Reply-To: {original_id}\n"
        f"References: {original_id}\n"
        f"Subject: {subject}\n"
        "Auto-Submitted: auto-replied\n"
        "X-MS-Exchange-Message-Is-Ndr:\n"
        "X-MS-PublicTrafficType: Email\n"
        "MIME-Version: 1.0\n\n"
        f"--{boundary}\n"
        f'Content-Type: multipart/alternative; differences=Content-Type;\n\tboundary="{alt}"\n\n'
        f'--{alt}\nContent-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n{text_b64}\n'
        f'--{alt}\nContent-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: base64\n\n{html_b64}\n'
        f"--{alt}--\n\n"
        f"--{boundary}\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns;{server}\nReceived-From-MTA: dns;mail.{OUR_DOMAIN}\n"
        "Arrival-Date: Mon, 7 Dec 2026 02:12:43 +0000\n\n"
        f"Final-Recipient: rfc822;{customer.address}\nAction: {action}\nStatus: {status}\n"
        f"Diagnostic-Code: smtp;{diagnostic}\n"
        + ("X-Display-Name: " + customer.contact + "\n" if customer.contact.isascii() else "")
        + f"\n--{boundary}\n{returned_part}\n--{boundary}--\n"
    )
    return text.replace("\n", "\r\n").encode("utf-8")


def _dsn(name: str, notes: str, raw: bytes) -> M:
    return M(name, "bounce", "en", "", raw=raw, notes=notes)


MAILS += [
    _dsn(
        "postfix_dsn_01",
        "Postfix 5.1.1 user unknown, whole message returned",
        postfix_dsn(
            "postfix_dsn_01",
            CUSTOMERS_ZH[0],
            "zh",
            "a1c0f3d2e9b4",
            "mx1.hengda-jd.example",
            "failed",
            "5.1.1",
            "host mx1.hengda-jd.example[192.0.2.10] said: 550 5.1.1\n    <wangli@hengda-jd.example>: Recipient address rejected: User unknown in\n    virtual mailbox table (in reply to RCPT TO command)",
            "550 5.1.1 <wangli@hengda-jd.example>: Recipient address\n    rejected: User unknown in virtual mailbox table",
            "message",
        ),
    ),
    _dsn(
        "postfix_dsn_02",
        "Postfix 5.2.2 mailbox full, headers only",
        postfix_dsn(
            "postfix_dsn_02",
            CUSTOMERS_ZH[3],
            "zh",
            "b7e21c90d4aa",
            "mail.jinqiao-log.example",
            "failed",
            "5.2.2",
            "host mail.jinqiao-log.example[203.0.113.25] said: 552 5.2.2\n    <zhaomin@jinqiao-log.example>: Mailbox full (in reply to RCPT TO command)",
            "552 5.2.2 <zhaomin@jinqiao-log.example>: Mailbox full",
            "headers",
        ),
    ),
    _dsn(
        "postfix_dsn_03",
        "Postfix delayed 4.4.1: not a hard bounce",
        postfix_dsn(
            "postfix_dsn_03",
            CUSTOMERS_EN[3],
            "en",
            "c3d9a0b1f277",
            "smtp.keystone-marine.example",
            "delayed",
            "4.4.1",
            "connect to smtp.keystone-marine.example[198.51.100.44]:25: Connection timed out",
            "Connection timed out",
            "headers",
        ),
    ),
    _dsn(
        "postfix_dsn_04",
        "Postfix 5.7.1 rejected by policy",
        postfix_dsn(
            "postfix_dsn_04",
            CUSTOMERS_EN[5],
            "en",
            "d4f0b8e2a613",
            "mx.alderfinch.example",
            "failed",
            "5.7.1",
            "host mx.alderfinch.example[192.0.2.77] said: 554 5.7.1 <mark@alderfinch.example>:\n    Recipient address rejected: Access denied (in reply to RCPT TO command)",
            "554 5.7.1 <mark@alderfinch.example>: Recipient address rejected:\n    Access denied",
            "message",
        ),
    ),
    _dsn(
        "postfix_dsn_05",
        "Postfix, two recipients (To and Cc) both 5.1.1",
        postfix_dsn(
            "postfix_dsn_05",
            CUSTOMERS_ZH[5],
            "zh",
            "e5a7c3f90b12",
            "mx.huateng-e.example",
            "failed",
            "5.1.1",
            "host mx.huateng-e.example[203.0.113.9] said: 550 5.1.1 User unknown (in reply to\n    RCPT TO command)",
            "550 5.1.1 User unknown",
            "message",
            extra_recipient=("caiwu@huateng-e.example", "5.1.1", "550 5.1.1 User unknown"),
        ),
    ),
    _dsn(
        "postfix_dsn_06",
        "Postfix: domain does not exist (5.4.4), no Remote-MTA answer",
        postfix_dsn(
            "postfix_dsn_06",
            CUSTOMERS_EN[9],
            "en",
            "f6b8d4a01c39",
            "mail.huayu-supply.example",
            "failed",
            "5.4.4",
            "Host or domain name not found. Name service error for\n    name=meridian-auto.example type=MX: Host not found, try again",
            "X-Postfix; Host or domain name not found. Name service error\n    for name=meridian-auto.example type=MX: Host not found, try again",
            "headers",
        ),
    ),
    _dsn(
        "exchange_ndr_01",
        "Exchange Online 5.1.10 RecipientNotFound, headers returned",
        exchange_ndr(
            "exchange_ndr_01",
            CUSTOMERS_EN[1],
            "en",
            "0a1b2c3d4e5f",
            "SG2PR06MB5123.apcprd06.prod.outlook.com",
            "failed",
            "5.1.10",
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
            "Your message to ap@northgate-fab.example couldn't be delivered.\n\nap wasn't found at northgate-fab.example.\n\nAction Required\nUnknown To address\n\nHow to Fix It\nThe address may be misspelled or may not exist.",
        ),
    ),
    _dsn(
        "exchange_ndr_02",
        "Exchange Online 5.2.2 mailbox full",
        exchange_ndr(
            "exchange_ndr_02",
            CUSTOMERS_EN[2],
            "en",
            "1b2c3d4e5f60",
            "BN8PR12MB3321.namprd12.prod.outlook.com",
            "failed",
            "5.2.2",
            "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
            "Your message to ljenkins@bellweather-foods.example couldn't be delivered.\n\nThe recipient's mailbox is full and can't accept messages now.\n\nljenkins\nOffice 365\nAction Required",
        ),
    ),
    _dsn(
        "exchange_ndr_03",
        "Exchange on-premises, zh-CN text, 5.1.1, whole message returned",
        exchange_ndr(
            "exchange_ndr_03",
            CUSTOMERS_ZH[9],
            "zh",
            "2c3d4e5f6071",
            "EXCH01.pengcheng-mold.example",
            "failed",
            "5.1.1",
            "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found",
            "",
            human_zh="无法将邮件传递到以下收件人或组:\n\nzhengwei@pengcheng-mold.example\n你尝试联系的电子邮件地址不存在。请检查收件人的电子邮件地址，然后尝试重新发送邮件。",
            returned="message",
        ),
    ),
    _dsn(
        "exchange_ndr_04",
        "Exchange Online 5.7.1 sender not authorized (restricted group)",
        exchange_ndr(
            "exchange_ndr_04",
            CUSTOMERS_EN[8],
            "en",
            "3d4e5f607182",
            "HK2PR02MB4410.apcprd02.prod.outlook.com",
            "failed",
            "5.7.1",
            "550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized",
            "Your message to vivian.chan@kowloon-lighting.example couldn't be delivered.\n\nYou don't have permission to send to this recipient.",
        ),
    ),
    _dsn(
        "exchange_ndr_05",
        "Exchange Online delayed 4.4.7: not a hard bounce",
        exchange_ndr(
            "exchange_ndr_05",
            CUSTOMERS_EN[6],
            "en",
            "4e5f60718293",
            "AM6PR04MB7781.eurprd04.prod.outlook.com",
            "delayed",
            "4.4.7",
            "400 4.4.7 Message delayed",
            "Delivery is delayed to these recipients or groups:\n\nj.becker@summit-pack.example\n\nThis message hasn't been delivered yet. Delivery will continue to be attempted.",
        ),
    ),
    _dsn(
        "exchange_ndr_06",
        "Exchange Online 5.4.1 recipient rejected by directory-based edge blocking",
        exchange_ndr(
            "exchange_ndr_06",
            CUSTOMERS_EN[7],
            "en",
            "5f6071829304",
            "CY4PR15MB1650.namprd15.prod.outlook.com",
            "failed",
            "5.4.1",
            "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)",
            "Your message to payables@redwood-elec.example couldn't be delivered.\n\npayables wasn't found at redwood-elec.example.",
        ),
    ),
    _dsn(
        "postfix_dsn_07",
        "Postfix 5.1.1, whole message returned with a UTF-8 subject",
        postfix_dsn(
            "postfix_dsn_07",
            CUSTOMERS_ZH[7],
            "zh",
            "a7b6c5d4e3f2",
            "mx.shuguang-led.example",
            "failed",
            "5.1.1",
            "host mx.shuguang-led.example[192.0.2.88] said: 550 5.1.1 Mailbox not found\n    (in reply to RCPT TO command)",
            "550 5.1.1 Mailbox not found",
            "message",
        ),
    ),
    _dsn(
        "exchange_ndr_07",
        "Exchange Online 5.1.1 ExRecipNotFound, whole message returned",
        exchange_ndr(
            "exchange_ndr_07",
            CUSTOMERS_EN[0],
            "en",
            "6a7b8c9d0e1f",
            "LO2P265MB3344.GBRP265.PROD.OUTLOOK.COM",
            "failed",
            "5.1.1",
            "550 5.1.1 RESOLVER.ADR.ExRecipNotFound; not found",
            "Your message to emma.clarke@harbourside-comp.example couldn't be delivered.\n\nemma.clarke wasn't found at harbourside-comp.example.",
            returned="message",
        ),
    ),
]
