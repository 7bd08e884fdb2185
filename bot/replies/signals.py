"""The phrasings that say what a reply is, in zh-CN and en, and how to tell when one is negated.

Each class is a handful of patterns for a way of saying a thing ("已经?付款", "payment was made"), not
a list of sentences. Patterns run on text that is NFKC-normalised (full-width letters, digits and ￥
folded) and lower-cased. English words are bounded with ASCII look-arounds rather than ``\\b``: in
Python a Chinese character is a word character, so ``\\b`` finds no edge in "付了stop".
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    """One phrase found in the reply's own text."""

    phrase: str
    start: int
    negated: bool  # "don't stop", "不是退订", "not been paid"


def _en(pattern: str) -> str:
    """An English pattern bounded by anything that is not an ASCII letter or digit."""
    return rf"(?<![a-z0-9]){pattern}(?![a-z0-9])"


def _compile(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


# A message that is nothing but one of these is an opt-out: the keywords carriers honour (CTIA's STOP,
# END, CANCEL, QUIT, UNSUBSCRIBE; China's T and TD) and their Chinese equivalents.
OPT_OUT_KEYWORDS = frozenset(
    {"t", "td", "tdtd", "stop", "stopall", "end", "cancel", "quit", "unsubscribe", "unsub", "退订", "退定"}
    | {"拒收", "取消", "t退订", "td退订"}
)

OPT_OUT = _compile(
    _en(r"(?<!non-)(?<!non )stop(?:all)?(?! by\b)(?! payment)"),
    _en(r"td(?!\s*bank)"),
    _en(r"un-?sub\w*"),
    _en(r"opt(?:ing)?[\s-]?out"),
    _en(
        r"(?:remove|take|delete|drop)\s+(?:me|us|my (?:number|name|e-?mail|phone|details|address|contact)"
        r"|this number)(?:\s+(?:off|from)(?![a-z]))?"
    ),
    # "remove this address (from your list)", not "delete this address from the invoice header".
    _en(
        r"(?:remove|take|delete|drop)\s+this\s+(?:(?:e-?mail\s+)?address|inbox|mailbox)(?=\s*(?:[.!]|$|(?:from|off)"
        r"\s+(?:your|the|all)\s+(?:\w+\s+)?(?:lists?|mailing|distribution|records|system|database)))"
    ),
    _en(
        r"(?:off|from) (?:your|the|all) (?:\w+ )?(?:mailing|distribution|contact|e-?mail|sms|reminder) lists?"
    ),
    _en(r"opt (?:me|us) out|(?:no longer|don'?t|do not) (?:want|wish) to (?:receive|get) (?:these|your|any)"),
    _en(
        r"(?:don'?t|do not|no longer)\s+(?:want|wish|need|like)\s+(?:to\s+(?:receive|get)\s+)?"
        r"(?:these|your|any|the|such)\s+(?:\w+\s+)?(?:messages?|texts?|msgs?|sms|e-?mails?|reminders?|notifications?)"
    ),
    _en(r"(?:do not|don'?t|dont|never) (?:text|message|sms|e-?mail|contact|call) (?:me|us|this number)"),
    _en(r"no more (?:texts?|messages?|sms|e-?mails?|reminders?)"),
    _en(r"leave (?:me|us) alone"),
    # 拒收 is also what a warehouse does with wrong goods ("通知仓库拒收", "拒收货物"): not that one.
    r"退订|退定|取消订阅|取消(?:短信|邮件|订阅|提醒|通知)|(?<!仓库)(?<!货)拒收(?!货|了?这批|该批)|退出(?:短信|订阅)",
    r"(?:请勿|勿|不要|别|不用)再?(?:给我们?|向我)?(?:发(?!票|货|错)|打扰|联系)",
    # "不要再给这个邮箱发…", "把这个邮箱从名单中删除": said of the address rather than of "me".
    r"(?:请勿|勿|不要|别|不用)再?(?:给|向|往)[^，。,.!?！？]{0,8}?发(?!票|货|错)",
    r"把(?:这个|本|我们?的?)(?:邮箱|号码|地址|手机号?)[^，。,.!?！？]{0,12}?(?:删除|移除|去掉)"
    r"|(?:名单|列表)[^，。,.!?！？]{0,4}?(?:删除|移除|去掉)",
    r"(?:不想|不愿意?|不要|不再)再?(?:收到|接收|接到)|删除我的(?:号码|手机号|邮箱|联系方式)|拉黑|屏蔽",
    r"(?:不想|不希望|不需要|停止|不要再)[^，。！？,.!?]{0,6}(?:短信|信息|消息|邮件|提醒|通知)",
    r"(?:不要|别)再?发了",
)

# China's one-letter keyword standing apart ("谢谢，T", "请T"), not in "T恤" or "can t": the caller
# counts it only in a message with Chinese in it, or one of a few characters.
LONE_T = re.compile(r"(?<![a-z0-9'])t(?![a-z0-9'\u3400-\u9fff])")

# Our own opt-out hint ("回复TD退订", "Reply STOP to opt out"), which a customer may quote when asking
# about something else: the words in it are not an opt-out unless the hint is all the message says.
OUR_HINT = _compile(
    r"回复\s*[\"'“‘]?(?:td|t)[\"'”’]?\s*(?:即可|可)?退订",
    _en(r"reply\s+[\"'“]?stop[\"'”]?\s+to\s+(?:opt[\s-]?out|unsubscribe|stop|end|cancel)"),
)

PAID = _compile(
    r"已经?(?:付款|付了|付过|付清|支付|汇款|汇了|汇过|转账|转了|转过|打款|打了|打过|结清|还清|还款|还了|付|汇(?!报|总))",
    r"(?:款|钱|账)(?:已经?|早就?|早已)(?:付|汇|转|打|结清|还)|已经?到账",
    r"(?:早就|早已|早)(?:付|汇|转|打|还)(?:了|过|款)",
    r"(?:付|转|打|汇)过去了|(?:付|结|还)清了|付过了",
    r"汇款(?:单|凭证|回单)|水单|银行回单|(?:付款|转账|汇款)(?:凭证|截图|记录)",
    r"(?:昨天|前天|上周|上星期|上个?月|刚刚?|刚才|前几天|之前)\S{0,4}?(?:付款|付了|转账|转了|汇款|汇了|打款|打了|支付|还了)",
    r"(?:付款|转账|汇款|支付|打款)(?:已经?)?(?:完成|成功)|已完成(?:付款|转账|支付|汇款)",
    # 已 + when or how + the verb: "已于12月3日付款", "已经在11月28日支付", "已经通过支付宝付款",
    # "已于今天上午电汇" (not "已经在安排付款", "已通过审批").
    r"(?:已经?(?:于|在)\s*(?:\d|[上昨前今本这周星]|[一二三四五六七八九十]+月)|已经?(?:通过|用|从)(?!审批|审核|申请))"
    r"[^，。,;；!?！？]{0,15}?(?:付款|付了|支付|转账|转了|汇款|汇了|电汇|打款|打了|付清|结清|还款)",
    _en(
        r"(?:already|alredy|allready|alrdy|aready)\s+(?:been\s+)?(?:paid|transferred|wired|remitted|settled)"
    ),
    _en(
        r"(?:paid|transferred|wired|remitted|settled)\s+(?:it\s+|this\s+|that\s+|in full\s+)?"
        r"(?:already|alredy|yesterday|today|last\s+\w+|on\s+\w+|\d+\s+days?\s+ago|a\s+week\s+ago)"
    ),
    _en(r"(?:have|has|had|'ve|was|were|been)\s+(?:already\s+)?(?:paid|settled|transferred|wired|remitted)"),
    _en(
        r"(?:payment|check|cheque|transfer|money|funds|wire)\s+(?:was|were|has been|have been|had been|is)\s+"
        r"(?:already\s+)?(?:made|sent|remitted|processed|transferred|completed|done|released|mailed|posted|issued)"
    ),
    _en(r"(?:we|i)\s+(?:already\s+)?(?:paid|transferred|wired|remitted|settled)"),
    _en(
        r"(?:payment|transfer|wire|cheque|check|money|funds)\s+(?:went out|has gone out|was sent out"
        r"|left (?:our|the) (?:account|bank))"
    ),
    _en(
        r"(?:payment|transfer|wire|money|funds)\s+(?:went through|has gone through|(?:has )?cleared"
        r"|(?:is |was )?(?:done|completed))"
    ),
    _en(
        r"(?:we|i|we've|i've|we have|i have)\s+(?:already\s+)?(?:sent|made|transferred|wired|remitted)\s+"
        r"(?:the\s+|you\s+|our\s+)?(?:money|payment|funds|transfer)"
    ),
    r"^\W*paid(?![a-z])",
    _en(r"(?:check|cheque)\s+[^.;!?]{0,20}?(?:was|were|has been|have been)\s+(?:cashed|deposited|cleared)"),
    _en(r"remittance|proof of payment|payment (?:confirmation|advice|receipt)|bank slip|transfer receipt"),
)

DISPUTE = _compile(
    r"数量(?:不对|有误|不符|错了|不够|少了)|少发|漏发|发错|少了\S{0,3}(?:箱|件|个|台|套|包|吨)",
    r"质量(?:有)?问题|质量不(?:合格|行|好)|次品|不合格|破损|损坏|坏了|货不对",
    r"(?:价格|单价|金额|总价|账单|数目|数额|规格|型号|尺寸|尺码|颜色|材质)(?:有误|不对|错了|错误|有问题|不符)"
    r"|价格错|多算|多收|多开|重复(?:收费|扣款|开票)",
    r"(?:价格|单价|金额|总价|账单|数量|发票)\S{0,8}?不(?:对|符|一致)|比(?:报价|合同价?|约定|订单)(?:高|贵|多|少)",
    r"(?:和|跟|与)(?:样品|样板|合同|订单|报价)\S{0,2}不(?:一样|一致|符)",
    r"发票\S{0,2}(?:没|未)(?:开|收到|寄|给)|(?:没|未)(?:收到|见到)\S{0,2}发票",
    r"(?:没|未|没有)收到(?:发票|货|货物)|发票(?:有误|不对|错了|开错)|抬头(?:写|开)?错",
    r"货.{0,3}(?:没|未)(?:收到|到)|对不上|不认(?:这笔|账|可)|有异议|有争议|投诉|不是我们(?:订|买)的|没订过|退货",
    _en(r"quantit(?:y|ies)\s+(?:was|is|were|are)\s+(?:short|wrong|incorrect|not right)"),
    _en(
        r"short[- ](?:shipped|delivered|shipment)"
        r"|\d+\s+(?:units|pcs|pieces|items|cartons|boxes)\s+(?:missing|short)"
    ),
    _en(
        r"wrong\s+(?:price|amount|quantity|invoice|items?|goods|product|rate|total)"
        r"|missing (?:items|units|goods|parts)"
    ),
    _en(
        r"(?:incorrect|wrong)\s+(?:price|amount|invoice|quantity)|invoice\s+(?:is|was)\s+(?:wrong|incorrect)"
    ),
    _en(r"damaged?|defective|faulty|broken|(?:poor|bad|low)\s+quality"),
    _en(
        r"\d+\s+(?:units|pcs|pieces|items|cartons|boxes|cases|pallets|bags)\s+(?:were\s+|are\s+)?(?:missing|short)"
        r"|missing from (?:the|your|our) (?:delivery|shipment|order)"
    ),
    _en(
        r"(?:invoiced|billed|charged)\s+(?:us\s+)?(?:for\s+)?\d+\S*\s+but\s+(?:only\s+)?"
        r"(?:shipped|delivered|received|sent|got)"
    ),
    _en(r"(?:returning|sending back|send back)\s+(?:them|it|the goods|the items|the order|the products)"),
    _en(r"(?:never|not|didn'?t|did not|haven'?t|have not|hasn'?t)\s+(?:been\s+)?received"),
    _en(r"overcharg\w*|double[- ]charg\w*|charged (?:us )?twice|credit note|disput\w*"),
    _en(
        r"not our order|not what (?:we|was) (?:ordered|agreed|quoted|contracted)"
        r"|(?:don'?t|do not|dont) owe|quality (?:issue|problem)s?"
    ),
    _en(r"(?:didn'?t|did not|never)\s+order(?:ed)?|duplicate|(?:billed|invoiced|charged)\s+(?:us\s+)?twice"),
    r"重复|(?:货|货物|产品|东西|质量)\S{0,3}(?:有|出了?)(?:问题|毛病)",
    r"(?:还|尚)?(?:没|未)到期|账期(?:还)?(?:没|未)到",
    # Not our debt: the order was cancelled, never placed, or the goods went back.
    r"不存在(?:欠款|欠费|债务|应付)|(?:这笔|款项|发票|订单|货)[^，。,.!?！？]{0,6}?不是我们(?:公司|单位)?的|(?:没有?|从未|未曾?)[^，。,.!?！？]{0,8}?(?:采购|订购|购买|订|买)过",
    r"(?:订单|合同)[^，。,.!?！？]{0,6}?(?:已经?)?取消|(?:货|货物)[^，。,.!?！？]{0,4}?退回|(?:发票|账单|这笔)[^，。,.!?！？]{0,4}?不认",
    # A condition of payment not met: acceptance, a contract term.
    r"(?:没有?|未)通过验收|验收(?:不合格|没通过|未通过)|(?:没|未|不)(?:到|达到|满足|符合)付款条件",
    # Late delivery and the penalty for it; an invoice issued wrongly (tax rate, title) and to be re-issued.
    r"延期交货|延迟(?:交货|发货|到货)|交货延迟|(?:到货|交货|发货|送货)[^，。,.!?！？]{0,12}?晚了"
    r"|(?:扣除|扣减|抵扣)[^，。,.!?！？]{0,8}?违约金|(?:没有?|未)约定(?:过)?违约金",
    r"不应(?:该)?由(?:我方|我们|我司|本公司)(?:承担|支付|负担)|(?:从|在)发票(?:中|里|上)?(?:扣除|去掉|删除|减去|扣掉)",
    r"(?:税率|抬头|税号|发票|开票)[^，。,.!?！？]{0,3}?(?:开错|错了|不对)|红冲|重开(?:发票|专票|普票)|重新开(?:票|具|发票)",
    _en(r"(?:not|isn'?t|is not)\s+(?:yet\s+)?(?:due|overdue)|not due (?:yet|until)"),
    _en(r"returned (?:the |all )?(?:goods|items|order|products)"),
    _en(r"re-?issue\w*|(?:correct|amend|revise)\s+(?:and\s+re-?issue|the\s+invoice)"),
    _en(
        r"(?:don'?t|do not|cannot|can'?t|didn'?t|did not)\s+recogni[sz]e"
        r"|no (?:purchase order|po)|proof of delivery"
    ),
    _en(
        r"failed\s+(?:our\s+|the\s+|your\s+)?(?:\w+\s+){0,2}(?:inspection|qc|test(?:ing)?|check)"
        r"|(?:payment|invoice)\s+(?:is\s+|will be\s+|remains\s+)?withheld"
        r"|withhold(?:ing)?\s+(?:the\s+)?payment"
    ),
    _en(
        r"wrong\s+(?:site|address|location|warehouse|depot|spec(?:ification)?s?|size|model|colou?r|grade|parts?"
        r"|sku|material|delivery address)"
    ),
    _en(
        r"(?:won'?t|will not|cannot|can'?t|unable to)\s+(?:process|approve|accept)"
        r"\s+(?:the\s+invoice|this\s+invoice|it)"
    ),
    _en(
        r"(?:invoiced|billed|charged)[^.;!?]{0,30}?\bbut\s+only\s+[^.;!?]{0,20}?"
        r"(?:arrived|came|delivered|received|shipped)"
    ),
    _en(r"on back-?order|only pay for what|(?:not|never)\s+(?:yet\s+)?(?:been\s+)?delivered"),
    _en(
        r"remove\s+(?:it|this|that|the\s+[a-z]+(?:\s+[a-z]+)?)\s+from\s+(?:the|this|your)\s+invoice"
        r"|(?:supposed|meant)\s+to\s+be\s+(?:included|free|waived|covered)"
    ),
    _en(
        r"not (?:part of|in|covered by|included in) (?:our|the) (?:agreement|contract|terms|quote|order)"
        r"|but not (?:the|any) (?:\w+ )?(?:fee|fees|interest|penalty|charges?|surcharge)"
    ),
    _en(
        r"(?:does not|doesn'?t|do not|don'?t|did not|didn'?t)\s+match"
        r"|(?:never|not|wasn'?t|was not)\s+(?:been\s+)?agreed"
    ),
)

# An invoice sent twice: a paid claim beside it is about the original ("duplicates INV-1; we paid that one").
DUPLICATE = _compile(
    _en(r"duplicat\w*|double[- ]charg\w*|(?:charged|billed|invoiced) (?:us )?twice"),
    r"重复(?:收费|扣款|开票|开具)?",
)

# Verbs of paying in a promise ("will pay", "I'll send the payment", "can settle").
_PAYING = (
    r"pay|transfer|settle|wire|remit|clear|send (?:the |you |over )?(?:payment|money|funds|balance)"
    r"|make (?:the )?payment|(?:send|post|drop|mail|put)\s+(?:you\s+)?(?:a|the|our)\s+(?:cheque|check)"
)
# What is paid (its amount may hold a decimal point), then what is said of it: "Payment of USD 7,950
# will be made", "the cheque for $1,860 goes out".
_PAYMENT = (
    r"(?:payment|transfer|wire|cheque|check|money|funds|remittance)"
    r"(?:\s+(?:of|for)\s+(?:[^.;!?]|\.(?=\d)){1,30}?)?"
)
PROMISE = _compile(
    # "will only pay for what was delivered" limits a payment; it promises none.
    _en(
        rf"(?:will|ill|shall|going to|gonna|can|could)\s+(?:(?!not\b|never\b|t\b|only\b)\w+\s+)?(?:{_PAYING})"
    ),
    rf"'ll\s+(?:(?!not\b|never\b|t\b|only\b)\w+\s+)?(?:{_PAYING})(?![a-z])",
    _en(rf"(?:intend|plan|expect|aim|promise|undertake)s?\s+to\s+(?:{_PAYING})"),
    _en(
        rf"{_PAYMENT}\s+(?:will|shall|should)\s+be\s+(?:made|sent|released|done|processed|transferred|wired|remitted)"
        r"|will\s+be\s+(?:paid|settled|released|remitted|transferred|wired)"
    ),
    _en(rf"{_PAYMENT}\s+(?:goes|will go|should go|shall go|is going|is going to go)\s+out"),
    _en(
        rf"{_PAYMENT}\s+(?:is|are)\s+(?:due|expected|set|scheduled|planned)\s+to\s+"
        r"(?:be\s+(?:released|made|sent|processed|transferred|wired|remitted)|go out|arrive|reach you|clear)"
    ),
    r"(?:(?<![a-z])will|(?<![a-z])shall|'ll)\s+(?:have|get)\s+(?:the\s+)?(?:money|payment|funds)\s+"
    r"(?:to you|over|across)(?![a-z])",
    _en(r"(?:balance|rest|remainder|payment|transfer|cheque|check)\s+will\s+follow"),
    _en(rf"confirm(?:ing|ed|s)?\s+(?:the\s+|our\s+)?{_PAYMENT}\s+(?:on|by|for)"),
    # "we can do USD 500 a month": an instalment offered.
    _en(
        r"(?:can|could|will|'ll)\s+(?:do|manage|afford|offer|send|pay)\s+[^.;!?]{1,20}?\s+"
        r"(?:a|per|each|every)\s+(?:month|week|fortnight)"
    ),
    _en(
        r"(?:approved|authori[sz]ed)\s+(?:a\s+|the\s+)?(?:part(?:ial)?\s+)?payment"
        r"|payment\s+(?:has been|have been|is|was)\s+(?:approved|authori[sz]ed)|(?:payment|pay)\s+run"
    ),
    # "payment by Friday", not "payment by credit card": a way of paying is not a date.
    _en(
        r"(?:payment|pay(?:ing)?)\s+(?:it\s+|you\s+|this\s+|the\s+(?:balance|invoice|rest)\s+)?(?:by|on|before|within)"
        r"(?!\s+(?:credit|debit|card|cheque|check|bank|wire|paypal|alipay|wechat|ach|sepa|direct|transfer|cash"
        r"|letter|l/c|telegraphic|tt)(?![a-z]))"
    ),
    _en(r"arrange (?:the )?payment"),
    _en(
        r"(?:payment|transfer|money|funds|wire|cheque|check)\s+(?:will|shall|is going to)\s+"
        r"(?:go out|be (?:sent|made|released|done|processed|transferred|wired))"
    ),
    _en(
        r"(?:will|ill|'ll|going to|gonna|can)\s+(?:get|have)\s+"
        r"(?:it|this|that|them|the invoices?|the balance)\s+paid"
    ),
    _en(
        rf"{_PAYMENT}\s+(?:is\s+)?(?:scheduled|planned|booked|set)\s+(?:for|on)|scheduled (?:the |a )?payment"
    ),
    r"(?:会|将|一定|肯定|保证|必须|尽快|马上|立刻|争取|尽量)\S{0,3}?"
    r"(?:付|还款|还清|打款|打过去|转账|转过去|汇款|结清|支付)",
    r"安排(?:付款|支付|打款|转账|汇款)",
    r"(?:预计|计划|打算|准备)[^，。,.!?！？]{0,8}?(?:到账|付款|支付|付清|打款|转账|汇款|结清)",
    r"(?:会|将|一定|肯定|保证|尽快|马上)把(?:[^，。,.!?！？]|(?<=\d)[,.](?=\d)){0,20}?(?:打|转|汇|付)(?:到|给|过去|入)",
    r"(?:这两天|这几天|近两天|近几天|过两天|过几天|近期|近日)\S{0,3}?(?:付|还款|打款|转|汇款|结清|支付)",
)
# After a date, a verb of paying with no 已 before it (12月3号已付, 周五已经转账 are payments made, not
# ones promised).
ZH_PAY_AFTER_DATE = re.compile(
    r"^(?:(?!已)[^，。,.!?！？]){0,8}?(?:付|还|打款|打过去|打(?=[0-9一二两三四五六七八九十几]|钱|款)|转|汇|结清|支付)"
)

HEDGE = _compile(
    _en(r"maybe|might|perhaps|hopefully|try to|trying to|hope to|if"),
    r"可能|也许|尽量|争取|看看|如果|估计|大概",
)

ACKNOWLEDGES = _compile(
    r"承认欠款|欠(?:你们|贵司|您)\S{0,3}(?:钱|款)|欠款(?:我们)?(?:认|承认)|确实欠",
    _en(r"(?:we|i)\s+(?:know\s+(?:we|i)\s+)?owe|owe you|owing you|balance is correct|amount is correct"),
    # Asking to pay in parts owns the debt as much as a promise does (asking to talk about a plan does not).
    _en(r"instal(?:l)?ments?"),
    r"分期|资金(?:周转)?(?:困难|紧张)",
)

AUTO_REPLY = _compile(
    _en(
        r"(?:i am|i'm|im)\s+(?:currently\s+)?"
        r"(?:out of (?:the )?office|away from|on (?:\w+ )?leave|on vacation|on holiday)"
    ),
    _en(r"out of (?:the )?office|automatic reply|auto-?reply|automated (?:reply|response|message)"),
    _en(
        r"(?:this|the) (?:mailbox|inbox|number|address) is (?:not|no longer) monitored"
        r"|driving focus|i'?m driving"
    ),
    _en(r"limited access to (?:e-?mail|messages)"),
    # Leave said of oneself ("我正在休假", "本人年假中"), not of a colleague ("吴婷下周起休产假").
    r"(?:我|本人)[^，。,.!?！？]{0,6}?(?:休假|年假|产假|病假)|(?:休假|年假|产假|病假)(?:中|期间)",
    r"自动回复|不在办公室|外出(?:中|期间|开会|办事|培训|学习)|无法及时回复|暂时无法(?:回复|接听)|不方便接听",
)

# A person who has read this message and says so ("will look at this when I'm back"): an autoresponder
# cannot have.
READ_IT = _compile(
    _en(
        r"(?:look at|look into|check|deal with|sort out|handle|take care of|get to|reply to)\s+(?:this|that)"
    ),
)

# A paying verb said of the future ("will be paid on 15 December"): a promise, not a payment made.
# (付款后会把水单发给您: the slip is to come.)
FUTURE_BEFORE = re.compile(
    r"(?<![a-z])(?:will|shall|would|should|to|going to|can|could|must)\s+(?:be\s+)?$"
    r"|(?:会|将会?|要)(?:把|将)?\s*$"
)

REMITTANCE_FILE = re.compile(
    r"remit|payment|advice|receipt|proof|swift|mt103|transfer|汇款|水单|回单|转账|付款|凭证|银行"
)

# A negation right before the phrase, or with "want to" between: "I'm not interested stop" stays an
# opt-out, "please don't stop" and "I did not ask to unsubscribe" do not.
_EN_NEGATION = re.compile(
    r"(?:(?<![a-z])(?:not|no|never|no need to|dont)|n't)\s+"
    r"(?:want to\s+|wanna\s+|asked? to\s+|mean to\s+)?$"
)
_ZH_NEGATION = re.compile(r"(?:不是|不要|不用|不想|不必|不需要|别|没有?|还没|尚未|未|并非|非|不会|不)\s*$")


def find(pattern: re.Pattern[str], text: str) -> list[Hit]:
    """Every phrase of ``pattern`` in ``text``, each marked negated when a negation stands just before it."""
    return [
        Hit(match.group(0), match.start(), _negated(text, match.start())) for match in pattern.finditer(text)
    ]


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 30) : start]
    return bool(_EN_NEGATION.search(before) or _ZH_NEGATION.search(before))
