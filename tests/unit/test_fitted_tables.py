"""Tables that fit the terminal: amounts and identifiers whole at any width, text giving way first."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from bot.cli.views.tables import Column, print_fitted

AMOUNTS = ["1,321,378.58", "11,446,509", "87,646.32", "0", "2,470,362.96"]
COLUMNS = [
    Column("customer", whole=True),
    Column("name", drop=1),
    Column("tier", whole=True, drop=2),
    Column("currency", whole=True, short="ccy"),
    *(Column(f"bucket {n}", justify="right", whole=True) for n in range(5)),
]
ROWS = [
    ["C-0001", "杭州远航贸易有限公司", "cooperative", "CNY", *AMOUNTS],
    ["C-0002", "Harbour Trading Company Ltd.", "strategic", "SGD", *reversed(AMOUNTS)],
]


def _printed(width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, soft_wrap=False)
    print_fitted("Aging", COLUMNS, ROWS, console=console)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [40, 60, 80, 100, 140, 220])
def test_every_amount_and_identifier_is_printed_whole_on_one_line(width: int) -> None:
    lines = _printed(width)
    for customer, amounts in (("C-0001", AMOUNTS), ("C-0002", list(reversed(AMOUNTS)))):
        line = next(line for line in lines if customer in line)
        # Each row's amounts, in order, as whole numbers on the customer's own line.
        assert re.findall(r"[\d,]+(?:\.\d\d)?(?=\s|$)", line.split(customer, 1)[1])[-5:] == amounts


def test_a_wide_terminal_gets_the_boxed_table_with_every_column() -> None:
    text = "\n".join(_printed(220))
    assert "┏" in text and "currency" in text and "cooperative" in text and "Harbour Trading" in text
    assert "left out" not in text
    assert max(len(line) for line in text.splitlines()) <= 220


def test_a_narrow_terminal_leaves_out_the_name_first_then_the_tier_and_says_so() -> None:
    widths = {width: "\n".join(_printed(width)) for width in (100, 90, 80)}
    # 100 columns: no box but every column (the names wrap); 90: the name left out; 80: the tier too.
    assert "┏" not in widths[100] and "Harbour" in widths[100] and "left out" not in widths[100]
    assert "Harbour" not in widths[90] and "cooperative" in widths[90]
    assert "left out at this width: name (a wider terminal or --json shows them)" in " ".join(
        widths[90].split()
    )
    assert "cooperative" not in widths[80] and "left out at this width: name, tier" in widths[80]
    for width, text in widths.items():
        assert max(len(line) for line in text.splitlines()) <= width


def test_what_cannot_fit_at_all_is_printed_wider_than_the_terminal_not_cut() -> None:
    lines = _printed(40)
    text = "\n".join(lines)
    assert "left out at this width: name, tier" in " ".join(text.split())
    assert max(len(line) for line in lines) > 40  # the terminal wraps these lines; nothing is lost


def test_no_rows_is_one_line_not_a_table_of_headers() -> None:
    console = Console(width=80, record=True, color_system=None, soft_wrap=False)
    print_fitted("Aging by tier as of 2026-06-10", COLUMNS, [], console=console)
    print_fitted("3 task(s)", COLUMNS, [], console=console, empty="no open tasks [for li]")
    assert console.export_text().splitlines() == [
        "Aging by tier as of 2026-06-10: none",
        "no open tasks [for li]",  # as written: never read as markup
    ]
