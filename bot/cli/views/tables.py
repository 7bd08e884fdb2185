"""The two consoles every view prints with, and tables that fit the terminal.

Both consoles print text from the ledger (customer names, notes, reasons) with its control
characters shown as ``\\xNN``: a customer named ``"\\x1b[2J…"`` cannot clear the collector's
screen, and an OSC 8 sequence cannot plant a link. Rich's own styling passes untouched.

``Table`` never reads a plain cell as markup; ``print_fitted`` lays out a table of ``Column``s so
that no whole cell (an amount, a date, an id) is ever cut at any terminal width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod, RenderableType
from rich.segment import Segment
from rich.table import Table as RichTable
from rich.text import Text

# C0 controls but tab and newline, DEL and the C1 controls (0x9b is a one-byte CSI on some terminals)
_CONTROLS = {
    code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code not in (0x09, 0x0A)
}


def printable(text: str) -> str:
    """``text`` with every control character but tab and newline written out as ``\\xNN``."""
    return text.translate(_CONTROLS)


class SafeConsole(Console):
    """A Rich console that writes the control characters of printed text as ``\\xNN``; the escape
    sequences Rich itself emits for styles and cursor control are kept."""

    def _render_buffer(self, buffer: Any) -> str:
        return super()._render_buffer(
            Segment(printable(text), style, control) if control is None else Segment(text, style, control)
            for text, style, control in buffer
        )


out = SafeConsole(soft_wrap=False)
err = SafeConsole(stderr=True)


class Table(RichTable):
    """A Rich table whose plain-string cells are text, never markup: a customer called "Smith [UK]"
    or a message naming "[signing] pkcs12" shows as written. Styled cells are passed as Text."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, **kwargs)


@dataclass(frozen=True)
class Column:
    """A column of a table that fits the terminal (see ``print_fitted``).

    ``whole``: amounts, dates, identifiers, statuses, read only whole: never cut, never wrapped,
    as wide as their widest cell or header. Other columns are free text and wrap (between words,
    or inside one too long for the column), never narrower than ``_TEXT_WIDTH``. ``drop``: on a
    terminal too narrow for every column, those with ``drop`` 1 are left out first, then 2, and so
    on (0: always shown).
    """

    name: str
    justify: JustifyMethod = "left"
    whole: bool = False
    drop: int = 0
    short: str | None = None  # the header in the compact layout, when the name is wider than the cells


_TEXT_WIDTH = 16  # a wrapped free-text column below this is a column of single words


def _table(
    title: str,
    columns: Sequence[Column],
    widths: Sequence[int],
    rows: Sequence[Sequence[RenderableType]],
    *,
    compact: bool,
) -> Table:
    table = (
        Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=0) if compact else Table(title=title)
    )
    for column, width in zip(columns, widths, strict=True):
        name = column.short if compact and column.short else column.name
        if column.whole:  # no_wrap: Rich never narrows such a column to fit, only a text column
            table.add_column(name, justify=column.justify, no_wrap=True, min_width=width)
        else:
            table.add_column(name, justify=column.justify, min_width=width, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _cell_width(cell: RenderableType) -> int:
    return cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len


def _narrowest(column: Column, widest: int, *, compact: bool) -> int:
    """The fewest cells ``column`` can take: a whole one its widest cell or header, free text
    at most ``_TEXT_WIDTH`` (it wraps)."""
    if not column.whole:
        return min(widest, _TEXT_WIDTH)
    header = column.short if compact and column.short else column.name
    return max(widest, Text(header).cell_len)


def print_fitted(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[RenderableType]],
    *,
    console: Console | None = None,
    empty: str | None = None,
) -> None:
    """Print ``rows`` as a table that fits the terminal without cutting any ``whole`` cell.

    No rows: one line instead (``empty``, else "TITLE: none"), not a table of headers.

    Boxed with every column when that fits; else compact (no borders); else compact without the
    droppable columns, fewest first, the caption naming what was left out. When even that is wider
    than the terminal, it is printed at its own width (the terminal wraps the lines): a cut amount
    would be a wrong amount.
    """
    console = console or out
    if not rows:
        console.print(empty or f"{title}: none", markup=False, highlight=False, soft_wrap=True)
        return
    # Every cell measured once; each layout's width is then arithmetic.
    widest = [max((_cell_width(row[i]) for row in rows), default=1) for i in range(len(columns))]
    levels = sorted({c.drop for c in columns if c.drop})
    attempts = [(False, 0), (True, 0), *((True, level) for level in levels)]
    for compact, dropped in attempts:
        kept = [i for i, c in enumerate(columns) if not c.drop or c.drop > dropped]
        widths = [_narrowest(columns[i], widest[i], compact=compact) for i in kept]
        # Boxed: a border before, after and between columns, one cell of padding each side.
        # Compact: one space between columns.
        needed = sum(widths) + (len(kept) - 1 if compact else 3 * len(kept) + 1)
        if needed <= console.width or (compact, dropped) == attempts[-1]:
            break
    table = _table(
        title, [columns[i] for i in kept], widths, [[row[i] for i in kept] for row in rows], compact=compact
    )
    left_out = [c.name for c in columns if c.drop and c.drop <= dropped]
    if left_out:
        table.caption = (
            f"left out at this width: {', '.join(left_out)} (a wider terminal or --json shows them)"
        )
    console.print(table, width=max(console.width, needed), crop=False)
