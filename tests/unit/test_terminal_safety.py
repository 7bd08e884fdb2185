"""Issue 19, finding 9: text from the ledger (a customer's name, a note, a reason) reached the
terminal with its escape sequences, so a name could clear the collector's screen or plant an OSC 8
link. The CLI's consoles now show every control character as \\xNN; Rich's own styling stays."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from rich.console import Console

from bot.cli.common import print_json
from bot.cli.views import collector, tables
from bot.cli.views.tables import SafeConsole, Table, printable

CLEAR = "\x1b[2J"
LINK = "\x1b]8;;https://evil.example/\x1b\\pay here\x1b]8;;\x1b\\"
NAME = f"杭州远航{CLEAR}贸易{LINK}有限公司\x07\x9b31m"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return SafeConsole(file=buffer, force_terminal=True, color_system="standard", width=200), buffer


def test_printable_writes_controls_out_and_keeps_tabs_newlines_and_text() -> None:
    assert printable("a\x1bb\x00c\x7fd\x9be\tf\ng 中文") == "a\\x1bb\\x00c\\x7fd\\x9be\tf\ng 中文"


def test_a_table_cell_cannot_clear_the_screen_or_plant_a_link() -> None:
    console, buffer = _console()
    table = Table(title="customers")
    table.add_column("name")
    table.add_row(NAME)
    console.print(table)
    console.print(f"[bold]{printable('x')}[/bold] {NAME}")
    shown = buffer.getvalue()
    assert CLEAR not in shown and "\x1b]8;" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert "\\x1b[2J" in shown and "\\x1b]8;;https://evil.example/" in shown  # visible, not obeyed
    assert "\x1b[1m" in shown  # Rich's own bold still reaches the terminal


def test_the_contact_log_shows_a_forged_summary_harmlessly(monkeypatch: object) -> None:
    console, buffer = _console()
    monkeypatch.setattr(tables, "out", console)  # type: ignore[attr-defined]
    entry = SimpleNamespace(
        seq=7,
        at=datetime(2026, 12, 7, 1, 0, tzinfo=UTC),
        kind="note",
        actor="user:li.na",
        customer="C1",
        invoices=("INV-1",),
        summary=f"note: {NAME}",
    )
    collector.print_log([entry])
    shown = buffer.getvalue()
    assert CLEAR not in shown and "\x1b]8;" not in shown
    assert "\\x1b[2J" in shown


def test_the_cli_prints_through_safe_consoles() -> None:
    from bot.cli import common

    assert isinstance(tables.out, SafeConsole) and isinstance(tables.err, SafeConsole)
    assert common.err is tables.err


def test_json_output_escapes_what_a_terminal_would_act_on_and_reads_back_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = f"{NAME}\u202egnp.exe\u2066x\u2069\x7f"
    print_json({"name": value})
    text = capsys.readouterr().out
    assert json.loads(text) == {"name": value}
    unsafe = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    unsafe += [c for c in text if 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069]
    assert unsafe == []
    assert "杭州远航" in text  # CJK stays readable, not \u escapes
