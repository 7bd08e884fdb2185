"""The labelled reply corpus (tests/data/replies/, issue 20): every reply classified, precision and
recall per class printed, and the thresholds of the issue held.

SMS bodies (``sms/*.txt``) become :class:`Reply` values here; e-mails (``email/*.eml``) go through
``bot.replies.parse.parse_email`` when that module is present, so the test covers both halves of the
corpus once the parser is merged.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config.sections import InboundSettings
from bot.replies.classify import classify
from bot.replies.model import Classification, Reply, ReplyKind

CORPUS = Path(__file__).resolve().parents[1] / "data" / "replies"
TODAY = date(2026, 12, 7)  # a Monday: the day every relative date in labels.csv is resolved against
TIMEZONE = "Asia/Shanghai"
CONFIRM_BELOW = InboundSettings().confirm_below
LABEL_COLUMNS = ["file", "kind", "promise_date", "promise_amount", "acknowledges_debt", "notes"]


@dataclass(frozen=True)
class Labelled:
    file: str
    kind: ReplyKind
    promise_date: date | None
    promise_amount: Decimal | None
    acknowledges_debt: bool
    notes: str


def load_labels() -> list[Labelled]:
    with (CORPUS / "labels.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == LABEL_COLUMNS, reader.fieldnames
        return [
            Labelled(
                file=row["file"],
                kind=ReplyKind(row["kind"]),
                promise_date=date.fromisoformat(row["promise_date"]) if row["promise_date"] else None,
                promise_amount=Decimal(row["promise_amount"]) if row["promise_amount"] else None,
                acknowledges_debt={"yes": True, "no": False}[row["acknowledges_debt"]],
                notes=row["notes"],
            )
            for row in reader
        ]


def sms_reply(body: str) -> Reply:
    """An inbound SMS as the webhook would hand it over, sent this morning in Shanghai."""
    return Reply(
        channel="sms",
        sender="+8613800138000",
        text=body,
        full_text=body,
        sent_at=datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo(TIMEZONE)),
    )


def email_parser() -> Callable[[bytes], Reply] | None:
    if importlib.util.find_spec("bot.replies.parse") is None:
        return None
    parser: Callable[[bytes], Reply] = importlib.import_module("bot.replies.parse").parse_email
    return parser


def corpus_results() -> list[tuple[Labelled, Classification]]:
    """Every labelled reply the worktree can read, with what the classifier made of it."""
    parse_email = email_parser()
    results = []
    for label in load_labels():
        path = CORPUS / label.file
        if label.file.startswith("sms/"):
            reply = sms_reply(path.read_text(encoding="utf-8").rstrip("\n"))
        elif parse_email is not None:
            reply = parse_email(path.read_bytes())
        else:
            continue
        results.append((label, classify(reply, today=TODAY, timezone=TIMEZONE)))
    return results


def table(
    results: list[tuple[Labelled, Classification]],
) -> tuple[dict[ReplyKind, tuple[float, float, int]], str]:
    figures: dict[ReplyKind, tuple[float, float, int]] = {}
    lines = [f"{'class':<11} {'precision':>9} {'recall':>7} {'support':>7} {'predicted':>9}"]
    for kind in ReplyKind:
        true_positive = sum(1 for label, got in results if label.kind == kind and got.kind == kind)
        predicted = sum(1 for _, got in results if got.kind == kind)
        support = sum(1 for label, _ in results if label.kind == kind)
        precision = true_positive / predicted if predicted else 1.0
        recall = true_positive / support if support else 1.0
        figures[kind] = (precision, recall, support)
        lines.append(f"{kind.value:<11} {precision:>9.1%} {recall:>7.1%} {support:>7} {predicted:>9}")
    acted = [(label, got) for label, got in results if got.confidence >= CONFIRM_BELOW]
    acted_right = sum(1 for label, got in acted if label.kind == got.kind)
    lines.append(
        f"auto-acted (confidence >= {CONFIRM_BELOW}): {acted_right}/{len(acted)} right "
        f"= {acted_right / max(len(acted), 1):.1%}; {len(results) - len(acted)} to confirm; {len(results)} replies"
    )
    return figures, "\n".join(lines)


def test_corpus_meets_the_issue_thresholds(capsys: pytest.CaptureFixture[str]) -> None:
    """Opt-out recall is 100 %, every other class's precision ≥ 90 %, and replies acted on without a
    collector (confidence ≥ [inbound] confirm_below) are ≥ 98 % right; the table is printed."""
    results = corpus_results()
    assert len(results) >= 140
    figures, printed = table(results)
    with capsys.disabled():
        print("\n" + printed)
    wrong = [
        f"{label.file}: labelled {label.kind.value}, got {got.kind.value} {got.confidence} {got.reasons}"
        for label, got in results
        if label.kind != got.kind
    ]
    missed_opt_outs = [line for line in wrong if "labelled opt-out" in line]
    assert not missed_opt_outs, "\n".join(missed_opt_outs)
    for kind, (precision, _, _) in figures.items():
        if kind != ReplyKind.OPT_OUT:
            assert precision >= 0.90, f"{kind.value} precision {precision:.1%}\n{printed}\n" + "\n".join(
                wrong
            )
    acted = [(label, got) for label, got in results if got.confidence >= CONFIRM_BELOW]
    acted_wrong = [f"{label.file}: {got}" for label, got in acted if label.kind != got.kind]
    assert len(acted_wrong) <= 0.02 * len(acted), "\n".join(acted_wrong)


def test_every_opt_out_of_the_corpus_acts() -> None:
    """Every form of STOP, 退订, TD, unsubscribe in the corpus is acted on at once (confidence at or
    above [inbound] confirm_below), never left waiting for a collector while messages go on."""
    waiting = [
        f"{label.file}: {got.kind.value} {got.confidence} {got.reasons}"
        for label, got in corpus_results()
        if label.kind == ReplyKind.OPT_OUT
        and (got.kind != ReplyKind.OPT_OUT or got.confidence < CONFIRM_BELOW)
    ]
    assert not waiting, "\n".join(waiting)


def test_corpus_promise_terms_match_the_labels() -> None:
    """Every reply labelled and classified a promise carries the labelled date (resolved against
    2026-12-07 in Shanghai) and amount; and the debt is marked acknowledged exactly where labelled."""
    results = corpus_results()
    mismatches = [
        f"{label.file}: date {got.promise_date} (label {label.promise_date}), "
        f"amount {got.promise_amount} (label {label.promise_amount})"
        for label, got in results
        if label.kind == got.kind == ReplyKind.PROMISE
        and (got.promise_date != label.promise_date or got.promise_amount != label.promise_amount)
    ]
    assert not mismatches, "\n".join(mismatches)
    acknowledgement = [
        f"{label.file}: acknowledges_debt {got.acknowledges_debt}, labelled {label.acknowledges_debt}"
        for label, got in results
        if got.acknowledges_debt != label.acknowledges_debt
    ]
    assert len(acknowledgement) <= 0.02 * len(results), "\n".join(acknowledgement)


def test_corpus_files_and_labels_agree() -> None:
    """Each corpus file has exactly one label row and each row names a file that exists, so a reply
    added without a label (or a label whose file was renamed) fails here, not silently."""
    labels = [label.file for label in load_labels()]
    assert len(labels) == len(set(labels))
    on_disk = {
        str(path.relative_to(CORPUS)) for path in CORPUS.glob("*/*") if path.suffix in (".txt", ".eml")
    }
    assert on_disk == set(labels)
    assert sum(1 for name in labels if name.startswith("sms/")) >= 140
