"""The console's dashboard is stored by the commands that change what it shows: `dunbot import`
(and sync) and `dunbot cycle`, run as a user types them; the page then reads it instead of
computing it (bot.reporting.dashboard)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from bot.config import load_settings
from bot.reporting.dashboard import dashboard, latest_snapshot, snapshot_t
from bot.store.engine import make_engine

AS_OF = "2026-11-24"  # a Tuesday, a working day in China


def dunbot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
    )


def _snapshots(folder: Path) -> list[tuple[date, str]]:
    engine = make_engine(f"sqlite:///{folder / 'dunbot.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.select(snapshot_t.c.as_of, snapshot_t.c.body).order_by(snapshot_t.c.id)
            ).all()
    finally:
        engine.dispose()
    return [(row.as_of, row.body) for row in rows]


def test_import_and_cycle_store_the_dashboard(tmp_path: Path) -> None:
    from bot.ingest.demo_ledger import generate_demo_ledger

    assert dunbot(tmp_path, "init").returncode == 0
    config = tmp_path / "dunbot.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('window = "08:00-20:00"', 'window = "00:00-23:59"'),
        encoding="utf-8",
    )
    files = generate_demo_ledger(tmp_path / "ledger", date.fromisoformat(AS_OF))
    assert _snapshots(tmp_path) == []
    none = dunbot(tmp_path, "report", "dashboard", "--as-of", AS_OF)
    assert none.returncode == 1 and "--refresh" in none.stderr and "Traceback" not in none.stderr
    result = dunbot(tmp_path, "import", "customers", str(files.customers), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert _snapshots(tmp_path) == []  # a dry run changes nothing, so stores nothing
    for entity in ("contracts", "customers", "invoices", "payments"):
        result = dunbot(tmp_path, "import", entity, str(getattr(files, entity)))
        assert result.returncode == 0, result.stderr
    after_import = _snapshots(tmp_path)
    assert len(after_import) == 1  # one per date: each import replaced the previous one of today
    assert '"aging":[{' in after_import[0][1]  # the imported receivables are in it

    result = dunbot(tmp_path, "cycle", "--as-of", AS_OF, "--json")
    assert result.returncode == 0, result.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'dunbot.db'}")
    try:
        stored = latest_snapshot(engine, date.fromisoformat(AS_OF))
        assert stored is not None and stored.board.as_of == date.fromisoformat(AS_OF)
        cycle = stored.board.last_cycle
        assert cycle is not None and cycle.ok and cycle.as_of == AS_OF and cycle.messages_sent > 20
        assert sum(state.count for state in stored.board.outbox) > 20
        # What was stored is what the read model computes now (nothing has changed since).
        settings = load_settings(config)  # the settings the commands read
        live = dashboard(engine, settings, stored.board.as_of, stored.board.now)
        assert live.aging == stored.board.aging and live.history == stored.board.history
        assert live.outbox == stored.board.outbox and live.last_cycle == stored.board.last_cycle
    finally:
        engine.dispose()

    # `dunbot report dashboard` prints the stored one; --refresh computes and stores it again.
    (as_of, body) = _snapshots(tmp_path)[-1]
    printed = dunbot(tmp_path, "report", "dashboard", "--as-of", AS_OF)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip() == body and as_of == date.fromisoformat(AS_OF)
    refreshed = dunbot(tmp_path, "report", "dashboard", "--as-of", AS_OF, "--refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    after = _snapshots(tmp_path)
    assert after[-1][1] == refreshed.stdout.strip() and len(after) == len(_snapshots(tmp_path))
    assert [a for a, _ in after].count(date.fromisoformat(AS_OF)) == 1  # replaced, not added
